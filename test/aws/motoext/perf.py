"""Cheaper IAM backends when AWS-managed policies are loaded.

With MOTO_IAM_LOAD_MANAGED_POLICIES=true every IAM backend (moto makes one per partition,
six of them, on first use and again on every POST /moto-api/reset) parses moto's ~1,500
managed policies from a JSON string and re-serialises each document: ~0.9 s per reset.
The parsed data is read-only, so it is parsed once here and each backend only builds its
own policy objects from it (same objects and values as moto's own loader).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from moto.iam.aws_managed_policies import aws_managed_policies_data
from moto.iam.models import AWSManagedPolicy, IAMBackend
from moto.settings import load_iam_aws_managed_policies

_parsed: list[tuple[str, dict[str, Any]]] | None = None


def _policies() -> list[tuple[str, dict[str, Any]]]:
    global _parsed
    if _parsed is None:
        _parsed = [(name, {
            "default_version_id": d.get("DefaultVersionId"),
            "path": d.get("Path"),
            "document": json.dumps(d.get("Document")),
            "create_date": datetime.fromisoformat(d["CreateDate"]),
            "update_date": datetime.fromisoformat(d["UpdateDate"]),
        }) for name, d in json.loads(aws_managed_policies_data).items()]
    return _parsed


def _init_aws_policies(self: IAMBackend) -> list[AWSManagedPolicy]:
    if not load_iam_aws_managed_policies():
        return []
    return [AWSManagedPolicy(name, account_id=self.account_id, region=self.region_name, **fields)
            for name, fields in _policies()]


def install() -> None:
    IAMBackend._init_aws_policies = _init_aws_policies
