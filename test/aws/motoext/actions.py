"""Lifecycle actions for lifecycle hooks: start, heartbeat, complete, expire, inspect.

An action is one (instance, hook) pair: a termination hook's, or a launch hook's (launches.py). It stays in ACTIONS after it ends so
tests can inspect what happened (GET /_lifecycle/actions) until POST /moto-api/reset.
An instance in Terminating:Wait is terminated once every action started for it has ended;
ABANDON ends the instance's other pending actions at once (AWS: "remaining actions, such as
other lifecycle hooks, are skipped"); for a termination both results terminate it.
Each action records the wait state it started in; what happens once the last one ends is
FINISHERS[that state] (warm_pools.py adds Warmed:Pending:Wait and Warmed:Terminating:Wait); a launch
action's is LAUNCH_FINISHERS[that state](…, result), since for a launch the result decides (launches.py).
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable

from moto.autoscaling.models import autoscaling_backends
from moto.autoscaling.responses import AutoScalingResponse
from moto.core.responses import EmptyResult

from .common import LAUNCHING, LOCK, RESULTS, TERMINATING, ValidationError, deliver, iso_now, log, new_id

ACTIONS: list["Action"] = []
EXPIRY_TICK_SECONDS = 0.1
TERMINATING_WAIT = "Terminating:Wait"


class Action:
    def __init__(self, account: str, region: str, group_name: str, instance_id: str, hook: Any,
                 lifecycle_state: str = TERMINATING_WAIT, origin: str = "AutoScalingGroup",
                 destination: str = "EC2", transition: str = TERMINATING):
        self.transition = transition
        self.account = account
        self.region = region
        self.group_name = group_name
        self.instance_id = instance_id
        self.hook_name = hook.name
        self.default_result = hook.default_result
        self.heartbeat_timeout = int(hook.heartbeat_timeout)
        self.global_timeout = int(hook.global_timeout)
        self.token = new_id()
        self.started_at = iso_now()
        self._started = time.monotonic()
        self._last_beat = self._started
        self.heartbeats = 0
        self.last_heartbeat_at: str | None = None
        self.result: str | None = None
        self.result_source: str | None = None
        self.completed_at: str | None = None
        self.complete_calls = 0
        self.rejected_complete_calls = 0
        self.rejected_heartbeats = 0
        self.lifecycle_state = lifecycle_state
        self.origin = origin
        self.destination = destination

    @property
    def active(self) -> bool:
        return self.result_source is None

    def deadline(self) -> float:
        return min(self._last_beat + self.heartbeat_timeout, self._started + self.global_timeout)

    def beat(self) -> None:
        self.heartbeats += 1
        self.last_heartbeat_at = iso_now()
        self._last_beat = time.monotonic()

    def public(self) -> dict[str, Any]:
        return {
            "instanceId": self.instance_id,
            "autoScalingGroupName": self.group_name,
            "lifecycleHookName": self.hook_name,
            "lifecycleTransition": self.transition,
            "token": self.token,
            "accountId": self.account,
            "region": self.region,
            "heartbeatTimeout": self.heartbeat_timeout,
            "globalTimeout": self.global_timeout,
            "defaultResult": self.default_result,
            "startedAt": self.started_at,
            "heartbeats": self.heartbeats,
            "lastHeartbeatAt": self.last_heartbeat_at,
            "result": self.result,
            "resultSource": self.result_source,
            "completedAt": self.completed_at,
            "completeCalls": self.complete_calls,
            "rejectedCompleteCalls": self.rejected_complete_calls,
            "rejectedHeartbeats": self.rejected_heartbeats,
            "lifecycleState": self.lifecycle_state,
            "origin": self.origin,
            "destination": self.destination,
        }


def snapshot() -> list[dict[str, Any]]:
    with LOCK:
        return [a.public() for a in ACTIONS]


def reset() -> None:
    with LOCK:
        ACTIONS.clear()


def pending_for_instance(account: str, region: str, instance_id: str) -> list[Action]:
    return [a for a in ACTIONS if a.active and (a.account, a.region, a.instance_id) == (account, region, instance_id)]


def start(backend: Any, group: Any, instance_id: str, hooks: list[Any],
          lifecycle_state: str = TERMINATING_WAIT, origin: str = "AutoScalingGroup",
          destination: str = "EC2", transition: str = TERMINATING) -> None:
    """Start one action per hook (all of `transition`) and send each hook's lifecycle message."""
    for hook in hooks:
        action = Action(backend.account_id, backend.region_name, group.name, instance_id, hook,
                        lifecycle_state, origin, destination, transition)
        ACTIONS.append(action)
        body = {
            "Origin": origin,
            "Destination": destination,
            "Service": "AWS Auto Scaling",
            "Time": iso_now(),
            "AccountId": backend.account_id,
            "RequestId": new_id(),
            "LifecycleTransition": transition,
            "LifecycleActionToken": action.token,
            "EC2InstanceId": instance_id,
            "LifecycleHookName": hook.name,
            "AutoScalingGroupName": group.name,
        }
        if getattr(hook, "notification_metadata", None):
            body["NotificationMetadata"] = hook.notification_metadata
        deliver(hook.notification_target_arn, body,
                f"Auto Scaling:  Lifecycle action '{'LAUNCHING' if transition == LAUNCHING else 'TERMINATING'}' for instance {instance_id} in progress.")


def end(action: Action, result: str | None, source: str) -> None:
    """End one action; terminate the instance when it was the last pending one (or ABANDON)."""
    action.result = result
    action.result_source = source
    action.completed_at = iso_now()
    siblings = pending_for_instance(action.account, action.region, action.instance_id)
    if result == "ABANDON":
        for other in siblings:
            other.result_source, other.completed_at = "skipped", action.completed_at
        siblings = []
    if not siblings:
        if action.transition == LAUNCHING:
            LAUNCH_FINISHERS[action.lifecycle_state](action.account, action.region, action.group_name,
                                                     action.instance_id, result)
            return
        finish = FINISHERS.get(action.lifecycle_state, finish_termination)
        finish(action.account, action.region, action.group_name, action.instance_id)


def finish_termination(account: str, region: str, group_name: str, instance_id: str) -> None:
    """Terminating:Proceed -> Terminated: remove from the group, terminate the EC2 instance,
    and let ELBv2 deregister it (draining) everywhere, as AWS does for terminated targets."""
    backend = autoscaling_backends[account][region]
    group = backend.autoscaling_groups.get(group_name)
    if group is not None:
        group.instance_states = [s for s in group.instance_states if s.instance.id != instance_id]
    instance = backend.ec2_backend.get_instance_by_id(instance_id)
    if instance is not None and instance.state != "terminated":
        backend.ec2_backend.terminate_instances([instance_id])
    backend.elbv2_backend.notify_terminate_instances([instance_id])
    if group is not None:
        backend.update_attached_elbs(group_name)


# wait state -> what ends it once its last action has ended: f(account, region, group, instance)
FINISHERS: dict[str, Callable[[str, str, str, str], None]] = {TERMINATING_WAIT: finish_termination}
# a launch's wait state -> f(account, region, group, instance, result); filled by launches.py
LAUNCH_FINISHERS: dict[str, Callable[[str, str, str, str, str | None], None]] = {}


def close_for_group(account: str, region: str, group_name: str, source: str) -> None:
    """The group is being deleted: its pending actions end without a result."""
    for action in ACTIONS:
        if action.active and (action.account, action.region, action.group_name) == (account, region, group_name):
            action.result_source, action.completed_at = source, iso_now()


def end_for_hook(account: str, region: str, group_name: str, hook_name: str) -> None:
    """DeleteLifecycleHook: AWS completes the hook's outstanding actions with CONTINUE."""
    for action in list(ACTIONS):
        if action.active and (action.account, action.region, action.group_name, action.hook_name) == (
            account, region, group_name, hook_name):
            end(action, "CONTINUE", "hook-deleted")


# --- API handlers -------------------------------------------------------------------


def _lookup(response: AutoScalingResponse) -> tuple[Action | None, str]:
    group_name = response._get_param("AutoScalingGroupName")
    hook_name = response._get_param("LifecycleHookName")
    instance_id = response._get_param("InstanceId")
    token = response._get_param("LifecycleActionToken")
    if not instance_id and not token:
        raise ValidationError("Either InstanceId or LifecycleActionToken must be specified.")
    scope = (response.current_account, response.region, group_name, hook_name)
    candidates = [a for a in ACTIONS if (a.account, a.region, a.group_name, a.hook_name) == scope
                  and (not instance_id or a.instance_id == instance_id)
                  and (not token or a.token == token)]
    active = next((a for a in candidates if a.active), None)
    if active is not None:
        return active, ""
    message = (f"No active Lifecycle Action found with instance ID {instance_id}" if instance_id
               else f"No active Lifecycle Action found with token {token}")
    # attribute the rejected call to the latest action it was aimed at, for inspection
    aimed = [a for a in ACTIONS if (a.account, a.region, a.group_name, a.hook_name) == scope
             and (a.instance_id == instance_id or (token and a.token == token))]
    return (aimed[-1] if aimed else None), message


def complete_lifecycle_action(self: AutoScalingResponse) -> EmptyResult:
    result = self._get_param("LifecycleActionResult")
    if result not in RESULTS:
        raise ValidationError(f"Invalid value for LifecycleActionResult: {result}. Valid values are CONTINUE, ABANDON.")
    with LOCK:
        action, error = _lookup(self)
        if error:
            if action is not None:
                action.rejected_complete_calls += 1
            raise ValidationError(error)
        action.complete_calls += 1
        end(action, result, "complete")
    return EmptyResult()


def record_lifecycle_action_heartbeat(self: AutoScalingResponse) -> EmptyResult:
    with LOCK:
        action, error = _lookup(self)
        if error:
            if action is not None:
                action.rejected_heartbeats += 1
            raise ValidationError(error)
        action.beat()
    return EmptyResult()


# --- expiry ----------------------------------------------------------------------------


def expire_due() -> None:
    with LOCK:
        now = time.monotonic()
        for action in list(ACTIONS):
            if action.active and now >= action.deadline():
                end(action, action.default_result, "expired")


class ExpiryThread(threading.Thread):
    """Applies each hook's DefaultResult when HeartbeatTimeout (or GlobalTimeout) passes."""

    def __init__(self) -> None:
        super().__init__(name="lifecycle-expiry", daemon=True)
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(EXPIRY_TICK_SECONDS):
            try:
                expire_due()
            except Exception as err:  # keep ticking; a reset may have raced with us
                log(f"expiry tick failed: {err!r}")

    def stop(self) -> None:
        self.stopped.set()


def install() -> None:
    AutoScalingResponse.complete_lifecycle_action = complete_lifecycle_action
    AutoScalingResponse.record_lifecycle_action_heartbeat = record_lifecycle_action_heartbeat
