"""Instances leave a group through Terminating:Wait when it has a termination hook.

Covers TerminateInstanceInAutoScalingGroup (with or without ShouldDecrementDesiredCapacity)
and every scale-in that goes through FakeAutoScalingGroup.set_desired_capacity
(SetDesiredCapacity, UpdateAutoScalingGroup, ExecutePolicy, ...). As AWS does, the instance
is first deregistered from the group's load balancers / target groups, then waits in
Terminating:Wait with its EC2 instance still running while the hook's message goes out; a
replacement is launched when the desired capacity was not lowered. Groups without a
termination hook keep moto's behaviour unchanged.
"""

from __future__ import annotations

import threading
from typing import Any

from moto.autoscaling.models import (
    AutoScalingBackend,
    FakeAutoScalingGroup,
    InstanceState,
    TerminateInstanceActivity,
)
from moto.autoscaling.responses import AutoScalingResponse
from moto.core.responses import ActionResult
from moto.elbv2.exceptions import TargetGroupNotFoundError

from . import actions
from .common import LOCK, ValidationError
from .hooks import termination_hooks

_orig_terminate = AutoScalingResponse.terminate_instance_in_auto_scaling_group
_orig_set_desired = FakeAutoScalingGroup.set_desired_capacity
_orig_delete_group = AutoScalingBackend.delete_auto_scaling_group
_orig_update_tgs = AutoScalingBackend.update_attached_target_groups

_bypass = threading.local()  # set while a group is being deleted: no hooks then


def _terminating(state: InstanceState) -> bool:
    return state.lifecycle_state.startswith("Terminating")


def _unregistered(state: InstanceState) -> bool:
    return _terminating(state) or state.lifecycle_state == "Pending:Wait"


def _hooks_apply(group: FakeAutoScalingGroup) -> list[Any]:
    if getattr(_bypass, "on", False):
        return []
    overrides = (group.mixed_instances_policy or {}).get("LaunchTemplate", {}).get("Overrides", [])
    if overrides:  # weighted mixed-instance capacity maths stays moto's (not modelled here)
        return []
    return termination_hooks(group.autoscaling_backend, group.name)


def begin_termination(group: FakeAutoScalingGroup, states: list[InstanceState], hooks: list[Any]) -> None:
    backend = group.autoscaling_backend
    for state in states:
        state.lifecycle_state = "Terminating:Wait"
        for arn in group.target_group_arns:
            try:
                target_group = backend.elbv2_backend.target_groups[arn]
            except KeyError:
                continue
            target_group.deregister_terminated_instances([state.instance.id])  # -> draining
        actions.start(backend, group, state.instance.id, hooks)


def set_desired_capacity(self: FakeAutoScalingGroup, new_capacity: int | None) -> None:
    hooks = _hooks_apply(self)
    if not hooks:
        return _orig_set_desired(self, new_capacity)
    with LOCK:
        self.desired_capacity = self.min_size if new_capacity is None else new_capacity
        in_service = self.active_instances()
        surplus = len(in_service) - (self.desired_capacity or 0)
        if surplus <= 0:
            return _orig_set_desired(self, self.desired_capacity)  # launches what is missing
        # moto's choice of victims: the first unprotected ones, in group order
        victims = [s for s in in_service if not s.protected_from_scale_in][:surplus]
        begin_termination(self, victims, hooks)
        backend = self.autoscaling_backend
        if self.name in backend.autoscaling_groups:
            backend.update_attached_elbs(self.name)
            backend.update_attached_target_groups(self.name)
    return None


def terminate_instance_in_auto_scaling_group(self: AutoScalingResponse) -> Any:
    instance_id = self._get_param("InstanceId")
    decrement = self._get_bool_param("ShouldDecrementDesiredCapacity", False)
    with LOCK:
        backend = self.autoscaling_backend
        state = next((s for g in backend.autoscaling_groups.values() for s in g.instance_states
                      if s.instance.id == instance_id), None)
        if state is None:
            raise ValidationError(f"Instance Id not found - No managed instance found for instance ID: {instance_id}")
        group = state.auto_scaling_group
        if _terminating(state):  # already on its way out: not terminated twice
            return ActionResult({"Activity": TerminateInstanceActivity(state.instance, group.desired_capacity)})
        hooks = _hooks_apply(group)
        if not hooks:
            return _orig_terminate(self)
        original = group.desired_capacity
        was_in_service = state.lifecycle_state == "InService"
        if decrement and was_in_service:
            group.desired_capacity = original - 1
        begin_termination(group, [state], hooks)
        # one fewer InService instance: moto launches the replacement unless decremented
        _orig_set_desired(group, group.desired_capacity)
        return ActionResult({"Activity": TerminateInstanceActivity(state.instance, original)})


def delete_auto_scaling_group(self: AutoScalingBackend, group_name: str) -> None:
    """moto deletes a group with instances (like ForceDelete): no hooks then; waiting
    instances are terminated with it and the group's hooks go too (moto kept them)."""
    with LOCK:
        group = self.autoscaling_groups.get(group_name)
        if group is not None:
            actions.close_for_group(self.account_id, self.region_name, group_name, "group-deleted")
            waiting = [s.instance.id for s in group.instance_states if _terminating(s)]
            group.instance_states = [s for s in group.instance_states if not _terminating(s)]
            if waiting:
                self.ec2_backend.terminate_instances(waiting)
        _bypass.on = True
        try:
            _orig_delete_group(self, group_name)
        finally:
            _bypass.on = False
        for key, hook in list(self.lifecycle_hooks.items()):
            if hook.auto_scaling_group_name == group_name:
                del self.lifecycle_hooks[key]


def update_attached_target_groups(self: AutoScalingBackend, group_name: str) -> None:
    """moto re-registers every member; a terminating one must stay deregistered, and one whose
    launch hook holds it (Pending:Wait, launches.py) is not registered yet."""
    group = self.autoscaling_groups[group_name]
    if not any(_unregistered(s) for s in group.instance_states):
        return _orig_update_tgs(self, group_name)
    for arn in group.target_group_arns:
        target_group = self.elbv2_backend.target_groups.get(arn)
        if target_group is None:
            continue
        try:
            self.elbv2_backend.register_targets(arn, [
                {"Id": s.instance.id, "Port": target_group.port}
                for s in group.instance_states if not _unregistered(s)])
        except TargetGroupNotFoundError:
            continue
    return None


def install() -> None:
    AutoScalingResponse.terminate_instance_in_auto_scaling_group = terminate_instance_in_auto_scaling_group
    FakeAutoScalingGroup.set_desired_capacity = set_desired_capacity
    AutoScalingBackend.delete_auto_scaling_group = delete_auto_scaling_group
    AutoScalingBackend.update_attached_target_groups = update_attached_target_groups
