"""Shared pieces: the one lock, clocks, AWS-shaped errors and notification delivery."""

from __future__ import annotations

import json
import sys
import threading
import uuid
from datetime import datetime, timezone
from typing import Any

from moto.autoscaling.exceptions import ValidationError  # code ValidationError, HTTP 400

# Every piece of state this extension adds (lifecycle actions, draining targets) and every
# moto mutation it performs happens under this lock: moto serves requests on many threads
# and the expiry thread runs beside them. Re-entrant because handlers call each other.
LOCK = threading.RLock()

TERMINATING = "autoscaling:EC2_INSTANCE_TERMINATING"
LAUNCHING = "autoscaling:EC2_INSTANCE_LAUNCHING"
RESULTS = ("CONTINUE", "ABANDON")

__all__ = ["LOCK", "TERMINATING", "LAUNCHING", "RESULTS", "ValidationError",
           "iso_now", "new_id", "log", "target_exists", "deliver"]


def iso_now() -> str:
    """UTC time as AWS writes it in Auto Scaling notifications: 2024-01-02T03:04:05.678Z."""
    now = datetime.now(timezone.utc)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


def new_id() -> str:
    return str(uuid.uuid4())


def log(message: str) -> None:
    print(f"[moto_ext] {message}", file=sys.stderr, flush=True)


def _split(arn: str | None) -> tuple[str, str, str, str] | None:
    """arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE -> (service, region, account, resource)."""
    parts = (arn or "").split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or parts[2] not in ("sqs", "sns"):
        return None
    return parts[2], parts[3], parts[4], parts[5]


def target_exists(arn: str | None) -> bool:
    """True when arn names an existing SQS queue or SNS topic in this moto server."""
    parsed = _split(arn)
    if parsed is None:
        return False
    service, region, account, name = parsed
    if service == "sqs":
        from moto.sqs.models import sqs_backends

        return name in sqs_backends[account][region].queues
    from moto.sns.models import sns_backends

    return arn in sns_backends[account][region].topics


def deliver(arn: str | None, body: dict[str, Any], subject: str) -> None:
    """Send an Auto Scaling notification to an SQS queue (the JSON body is the message, as
    AWS sends it) or an SNS topic (published through moto's SNS, so subscribed queues get
    the SNS envelope with this JSON as its Message). Anything else is ignored."""
    parsed = _split(arn)
    if parsed is None:
        return
    service, region, account, name = parsed
    message = json.dumps(body)
    try:
        if service == "sqs":
            from moto.sqs.models import sqs_backends

            sqs_backends[account][region].send_message(name, message)
        else:
            from moto.sns.models import sns_backends

            sns_backends[account][region].publish(message, arn=arn, subject=subject)
    except Exception as err:  # the target was deleted after the hook was put: AWS drops it too
        log(f"could not deliver to {arn}: {err!r}")
