"""PutLifecycleHook / DescribeLifecycleHooks / DeleteLifecycleHook as AWS stores them.

moto 5.2.1 drops NotificationTargetARN, RoleARN and NotificationMetadata (it reports
hard-coded fake ARNs), always reports GlobalTimeout 172800 and sends no test notification.
Here the hook keeps the real values, an update keeps the fields it does not name, and a
named target gets AWS's autoscaling:TEST_NOTIFICATION (an unreachable target fails the
call as AWS does).
"""

from __future__ import annotations

from typing import Any

from moto.autoscaling.models import AutoScalingBackend, LifecycleHook
from moto.autoscaling.responses import AutoScalingResponse
from moto.core.responses import EmptyResult

from . import actions
from .common import (LAUNCHING, LOCK, RESULTS, TERMINATING, ValidationError, deliver, iso_now,
                     new_id, target_exists)

MAX_GLOBAL_TIMEOUT = 172800

_orig_delete_hook = AutoScalingResponse.delete_lifecycle_hook


def termination_hooks(backend: AutoScalingBackend, group_name: str) -> list[LifecycleHook]:
    return [h for h in backend.lifecycle_hooks.values()
            if h.auto_scaling_group_name == group_name and h.lifecycle_transition == TERMINATING]


def launch_hooks(backend: AutoScalingBackend, group_name: str) -> list[LifecycleHook]:
    return [h for h in backend.lifecycle_hooks.values()
            if h.auto_scaling_group_name == group_name and h.lifecycle_transition == LAUNCHING]


def put_lifecycle_hook(self: AutoScalingResponse) -> EmptyResult:
    backend = self.autoscaling_backend
    group_name = self._get_param("AutoScalingGroupName")
    name = self._get_param("LifecycleHookName")
    transition = self._get_param("LifecycleTransition")
    heartbeat = self._get_int_param("HeartbeatTimeout")
    default_result = self._get_param("DefaultResult")
    target = self._get_param("NotificationTargetARN")
    role = self._get_param("RoleARN")
    metadata = self._get_param("NotificationMetadata")

    with LOCK:
        group = backend.autoscaling_groups.get(group_name)
        if group is None:
            raise ValidationError(f"AutoScalingGroup name not found - AutoScalingGroup {group_name} not found")
        hook = backend.lifecycle_hooks.get(f"{group_name}_{name}")
        if hook is None and not transition:
            raise ValidationError("LifecycleTransition must be specified when creating a lifecycle hook.")
        if transition and transition not in (LAUNCHING, TERMINATING):
            raise ValidationError(f"Invalid Lifecycle Transition: {transition}")
        # AWS allows 30..7200 s. Tests scale time down, so any HeartbeatTimeout >= 1 is
        # accepted here on purpose (e.g. 2 s to watch DefaultResult being applied).
        if heartbeat is not None and heartbeat < 1:
            raise ValidationError(f"Heartbeat Timeout must be at least 1 second (got {heartbeat}).")
        if default_result is not None and default_result not in RESULTS:
            raise ValidationError(f"Invalid value for DefaultResult: {default_result}. Valid values are CONTINUE, ABANDON.")
        if target is not None and not target_exists(target):
            raise ValidationError(
                f"Unable to publish test message to notification target {target} using IAM role {role}. "
                "Please check your target and role configuration and try to put lifecycle hook again.")

        if hook is None:
            hook = backend.create_lifecycle_hook(name=name, as_name=group_name, transition=transition,
                                                 timeout=heartbeat, result=default_result)
            hook.role_arn = None
            hook.notification_target_arn = None
            hook.notification_metadata = None
        else:  # an update changes only what the request names
            if transition:
                hook.lifecycle_transition = transition
            if heartbeat is not None:
                hook.heartbeat_timeout = heartbeat
            if default_result is not None:
                hook.default_result = default_result
        if target is not None:
            hook.notification_target_arn = target
        if role is not None:
            hook.role_arn = role
        if metadata is not None:
            hook.notification_metadata = metadata
        hook.global_timeout = min(MAX_GLOBAL_TIMEOUT, 100 * int(hook.heartbeat_timeout))

        if target is not None:
            deliver(target, {
                "AccountId": self.current_account,
                "RequestId": new_id(),
                "AutoScalingGroupARN": group.arn,
                "AutoScalingGroupName": group_name,
                "Service": "AWS Auto Scaling",
                "Event": "autoscaling:TEST_NOTIFICATION",
                "Time": iso_now(),
            }, f'Auto Scaling: test notification for group "{group_name}"')
    return EmptyResult()


def delete_lifecycle_hook(self: AutoScalingResponse) -> Any:
    with LOCK:
        actions.end_for_hook(self.current_account, self.region,
                             self._get_param("AutoScalingGroupName"), self._get_param("LifecycleHookName"))
        return _orig_delete_hook(self)


def install() -> None:
    AutoScalingResponse.put_lifecycle_hook = put_lifecycle_hook
    AutoScalingResponse.delete_lifecycle_hook = delete_lifecycle_hook
