"""ELBv2 targets keyed by (Id, Port), with a real draining phase.

moto 5.2.1 keys a target group's targets by Id alone (a second port replaces the first) and
drops a deregistered target at once. Here:
* RegisterTargets keeps one registration per (Id, Port); Port defaults to the group's port.
  `ip` target groups take IP addresses as Ids (no EC2 lookup applies to them).
* DeregisterTargets moves each registration to `draining` / Target.DeregistrationInProgress
  for the group's deregistration_delay.timeout_seconds (read when deregistering; default
  300), after which it is gone. Deregistering a draining target again is a no-op; one that
  is not registered fails with InvalidTarget (moto's error). Re-registering ends draining.
* DescribeTargetHealth without Targets lists registered + draining targets; with Targets, a
  target given without Port matches all its registrations, and one not registered is
  `unused` / Target.NotRegistered.
* Instances terminated through EC2 (or by a completed lifecycle action) drain the same way,
  as AWS deregisters terminated instances.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import Any

from moto.elbv2.exceptions import InvalidTargetError, TargetGroupNotFoundError, TargetNotRunning
from moto.elbv2.models import ELBv2Backend, FakeHealthStatus, FakeTargetGroup

from .common import LOCK

Key = tuple[str, Any]


def _port(group: FakeTargetGroup, target: dict[str, Any]) -> Any:
    port = target.get("Port")
    if port in (None, ""):
        port = group.port
    return int(port) if port not in (None, "") else None


def _draining(group: FakeTargetGroup) -> "OrderedDict[Key, tuple[dict[str, Any], float]]":
    if not hasattr(group, "_ext_draining"):
        group._ext_draining = OrderedDict()
    now = time.monotonic()
    for key, (_target, until) in list(group._ext_draining.items()):
        if until <= now:
            del group._ext_draining[key]
    return group._ext_draining


def _delay(group: FakeTargetGroup) -> float:
    return float(group.attributes.get("deregistration_delay.timeout_seconds", 300) or 0)


def _start_draining(group: FakeTargetGroup, keys: list[Key]) -> None:
    draining = _draining(group)
    until = time.monotonic() + _delay(group)
    for key in keys:
        target = group.targets.pop(key)
        if until > time.monotonic():
            draining[key] = (target, until)


def register(self: FakeTargetGroup, targets: list[dict[str, Any]]) -> None:
    with LOCK:
        draining = _draining(self)
        for target in targets:
            instance = self.ec2_backend.get_instance_by_id(target["Id"]) if self.target_type == "instance" else None
            if instance is not None and instance.state != "running":
                raise TargetNotRunning(instance_id=target["Id"])
        for target in targets:
            key = (target["Id"], _port(self, target))
            entry = {"Id": key[0], "Port": key[1]}
            if target.get("AvailabilityZone"):
                entry["AvailabilityZone"] = target["AvailabilityZone"]
            self.targets[key] = entry
            draining.pop(key, None)


def deregister(self: FakeTargetGroup, targets: list[dict[str, Any]]) -> None:
    with LOCK:
        draining = _draining(self)
        keys = [(t["Id"], _port(self, t)) for t in targets]
        if any(k not in self.targets and k not in draining for k in keys):
            raise InvalidTargetError()
        _start_draining(self, [k for k in dict.fromkeys(keys) if k in self.targets])


def deregister_terminated_instances(self: FakeTargetGroup, instance_ids: list[str]) -> None:
    with LOCK:
        _start_draining(self, [k for k in self.targets if k[0] in instance_ids])


def _status(group: FakeTargetGroup, key: Key, state: str, reason: str | None = None,
            description: str | None = None) -> FakeHealthStatus:
    health_port = group.health_check_port
    if health_port in (None, "traffic-port") and key[1] is not None:
        health_port = str(key[1])
    return FakeHealthStatus(key[0], key[1], health_port, state, reason, description)


def _health(group: FakeTargetGroup, key: Key, ec2_backend: Any) -> FakeHealthStatus:
    if key in group.targets:
        instance = ec2_backend.get_instance_by_id(key[0]) if key[0].startswith("i-") else None
        if instance is not None and instance.state == "stopped":
            return _status(group, key, "unused", "Target.InvalidState", "Target is in the stopped state")
        return _status(group, key, "healthy")
    if key in _draining(group):
        return _status(group, key, "draining", "Target.DeregistrationInProgress", "Target deregistration is in progress")
    return _status(group, key, "unused", "Target.NotRegistered", "Target is not registered to the target group")


def describe_target_health(self: ELBv2Backend, target_group_arn: str,
                           targets: list[dict[str, Any]]) -> list[FakeHealthStatus]:
    with LOCK:
        group = self.target_groups.get(target_group_arn)
        if group is None:
            raise TargetGroupNotFoundError()
        known = list(group.targets) + [k for k in _draining(group) if k not in group.targets]
        if not targets:
            keys = known
        else:
            keys = []
            for target in targets:
                if target.get("Port") not in (None, ""):
                    keys.append((target["Id"], _port(group, target)))
                else:
                    keys.extend([k for k in known if k[0] == target["Id"]] or [(target["Id"], _port(group, target))])
        return [_health(group, key, self.ec2_backend) for key in keys]


def install() -> None:
    FakeTargetGroup.register = register
    FakeTargetGroup.deregister = deregister
    FakeTargetGroup.deregister_terminated_instances = deregister_terminated_instances
    ELBv2Backend.describe_target_health = describe_target_health
