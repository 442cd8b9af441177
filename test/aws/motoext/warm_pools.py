"""Warm pools: instances in them, and termination hooks in the two warm-pool wait states.

moto 5.2.1 only stores PutWarmPool's configuration. Here PutWarmPool fills the pool (straight
to Warmed:<PoolState>, EC2 instance stopped unless Running) or shrinks it. Warm instances live
in `group._ext_warm`, not in `instance_states`: they are not members (no desired capacity, no
load balancers, never picked by scale-in); DescribeWarmPool / DescribeAutoScalingInstances
report them. With a termination hook:
* scale-in with ReuseOnScaleIn: deregistered, then Warmed:Pending:Wait (message AutoScalingGroup
  -> WarmPool); when its last action ends (any result) it enters the pool, not terminated.
  TerminateInstanceInAutoScalingGroup on a member still terminates (scalein.py).
* a warm instance terminated (TerminateInstanceInAutoScalingGroup, PutWarmPool shrinking,
  DeleteWarmPool): Warmed:Terminating:Wait (WarmPool -> EC2), then terminated.
Without a hook (or DeleteWarmPool ForceDelete) each happens at once. A deleted pool shows
Status PendingDelete until its last instance is gone.
"""

from __future__ import annotations

from typing import Any

from moto.autoscaling.models import (AutoScalingBackend, FakeAutoScalingGroup, InstanceState,
                                     TerminateInstanceActivity, autoscaling_backends)
from moto.autoscaling.responses import AutoScalingResponse
from moto.core.responses import ActionResult, EmptyResult

from . import actions, scalein
from .common import LOCK, ValidationError, iso_now

PENDING_WAIT = "Warmed:Pending:Wait"
TERMINATING_WAIT = "Warmed:Terminating:Wait"
WARMED = {"Stopped": "Warmed:Stopped", "Running": "Warmed:Running", "Hibernated": "Warmed:Hibernated"}
PENDING_DELETE = "PendingDelete"

# the first three are taken again in install(), after scalein.py has patched them
_prev_set_desired = FakeAutoScalingGroup.set_desired_capacity
_prev_put = AutoScalingBackend.put_warm_pool
_prev_describe_instances = AutoScalingBackend.describe_auto_scaling_instances
_prev_notify_terminate = AutoScalingBackend.notify_terminate_instances
_prev_delete_group = AutoScalingBackend.delete_auto_scaling_group
_prev_terminate = AutoScalingResponse.terminate_instance_in_auto_scaling_group


# --- the pool ---------------------------------------------------------------------------


def pool_of(group: FakeAutoScalingGroup) -> list[InstanceState]:
    return group.__dict__.setdefault("_ext_warm", [])


def _held(group: FakeAutoScalingGroup) -> list[InstanceState]:
    """The pool's instances that are not on their way out."""
    return [s for s in pool_of(group) if not s.lifecycle_state.startswith("Warmed:Terminat")]


def _settled(group: FakeAutoScalingGroup) -> list[InstanceState]:
    return [s for s in pool_of(group) if s.lifecycle_state in WARMED.values()]


def target_size(group: FakeAutoScalingGroup) -> int:
    pool = group.warm_pool
    size = int(pool.min_size or 0)
    prepared = pool.max_group_prepared_capacity
    if prepared is not None and int(prepared) >= 0:
        size = max(size, int(prepared) - int(group.desired_capacity or 0))
    return max(size, 0)


def _deleting(group: FakeAutoScalingGroup) -> bool:
    pool = getattr(group, "warm_pool", None)
    return pool is None or getattr(pool, "status", None) == PENDING_DELETE


def _reuses(group: FakeAutoScalingGroup) -> bool:
    if _deleting(group) or getattr(scalein._bypass, "on", False):
        return False
    if (group.mixed_instances_policy or {}).get("LaunchTemplate", {}).get("Overrides"):
        return False  # weighted capacity maths stays moto's, as in scalein.py
    reuse = (group.warm_pool.instance_reuse_policy or {}).get("ReuseOnScaleIn")
    return str(reuse).lower() == "true"


def _settle(group: FakeAutoScalingGroup, state: InstanceState) -> None:
    """Enter the pool: Warmed:<PoolState>, the EC2 instance stopped unless Running."""
    pool_state = group.warm_pool.pool_state if group.warm_pool is not None else "Stopped"
    state.lifecycle_state = WARMED.get(pool_state, WARMED["Stopped"])
    if pool_state != "Running" and state.instance.state == "running":
        group.ec2_backend.stop_instances([state.instance.id])


def _launch(group: FakeAutoScalingGroup, count: int) -> None:
    """Launch as moto launches group members, then move them into the pool."""
    before = {id(s) for s in group.instance_states}
    group.replace_autoscaling_group_instances(count, group.get_propagated_tags())
    new = [s for s in group.instance_states if id(s) not in before]
    group.instance_states = [s for s in group.instance_states if id(s) in before]
    for state in new:
        pool_of(group).append(state)
        _settle(group, state)


def _drop_if_deleted(group: FakeAutoScalingGroup) -> None:
    if group.warm_pool is not None and _deleting(group) and not pool_of(group):
        group.warm_pool = None


def _terminate_now(group: FakeAutoScalingGroup, state: InstanceState) -> None:
    """Warmed:Terminating:Proceed -> Warmed:Terminated: the instance leaves the pool."""
    state.lifecycle_state = "Warmed:Terminated"
    group._ext_warm = [s for s in pool_of(group) if s is not state]
    if state.instance.state != "terminated":
        group.ec2_backend.terminate_instances([state.instance.id])
    group.autoscaling_backend.elbv2_backend.notify_terminate_instances([state.instance.id])
    _drop_if_deleted(group)


def begin_warm_termination(group: FakeAutoScalingGroup, states: list[InstanceState]) -> None:
    hooks = scalein._hooks_apply(group)
    for state in states:
        if not hooks:
            _terminate_now(group, state)
            continue
        state.lifecycle_state = TERMINATING_WAIT
        actions.start(group.autoscaling_backend, group, state.instance.id, hooks,
                      lifecycle_state=TERMINATING_WAIT, origin="WarmPool", destination="EC2")


def reconcile(group: FakeAutoScalingGroup) -> None:
    """Bring the pool to its target size: launch what is missing, terminate the surplus."""
    if _deleting(group):
        return
    held, target = _held(group), target_size(group)
    if len(held) < target:
        _launch(group, target - len(held))
    elif len(held) > target:
        begin_warm_termination(group, _settled(group)[:len(held) - target])


def return_to_pool(group: FakeAutoScalingGroup, states: list[InstanceState], hooks: list[Any]) -> None:
    """Scale-in with ReuseOnScaleIn: leave the load balancers, then Warmed:Pending:Wait."""
    backend = group.autoscaling_backend
    for state in states:
        for arn in group.target_group_arns:
            target_group = backend.elbv2_backend.target_groups.get(arn)
            if target_group is not None:
                target_group.deregister_terminated_instances([state.instance.id])  # -> draining
        group.instance_states = [s for s in group.instance_states if s is not state]
        pool_of(group).append(state)
        if not hooks:
            _settle(group, state)
            continue
        state.lifecycle_state = PENDING_WAIT
        actions.start(backend, group, state.instance.id, hooks,
                      lifecycle_state=PENDING_WAIT, origin="AutoScalingGroup", destination="WarmPool")


def _finisher(returning: bool):
    """What ends Warmed:Pending:Wait (returning) or Warmed:Terminating:Wait, for actions.py."""
    def finish(account: str, region: str, group_name: str, instance_id: str) -> None:
        group = autoscaling_backends[account][region].autoscaling_groups.get(group_name)
        state = next((s for s in pool_of(group) if s.instance.id == instance_id), None) if group else None
        if state is None:
            return
        if returning and not _deleting(group):
            _settle(group, state)
        else:  # terminating, or the pool went away meanwhile: nowhere to return to
            _terminate_now(group, state)
    return finish


def _group(backend: AutoScalingBackend, name: str) -> FakeAutoScalingGroup:
    group = backend.autoscaling_groups.get(name)
    if group is None:
        raise ValidationError(f"AutoScalingGroup name not found - AutoScalingGroup {name} not found")
    return group


# --- patched moto ------------------------------------------------------------------------


def set_desired_capacity(self: FakeAutoScalingGroup, new_capacity: int | None) -> None:
    if not _reuses(self):
        return _prev_set_desired(self, new_capacity)
    with LOCK:
        desired = self.min_size if new_capacity is None else new_capacity
        in_service = self.active_instances()
        surplus = len(in_service) - (desired or 0)
        if surplus <= 0:
            return _prev_set_desired(self, new_capacity)
        self.desired_capacity = desired
        victims = [s for s in in_service if not s.protected_from_scale_in][:surplus]  # as scalein.py
        return_to_pool(self, victims, scalein._hooks_apply(self))
        backend = self.autoscaling_backend
        if self.name in backend.autoscaling_groups:
            backend.update_attached_elbs(self.name)
            backend.update_attached_target_groups(self.name)
    return None


def put_warm_pool(self: AutoScalingBackend, group_name: str, max_group_prepared_capacity: int | None,
                  min_size: int | None, pool_state: str | None,
                  instance_reuse_policy: dict[str, bool] | None) -> None:
    if pool_state is not None and pool_state not in WARMED:
        raise ValidationError(f"Invalid value for PoolState: {pool_state}. Valid values are Stopped, Running, Hibernated.")
    with LOCK:
        group = _group(self, group_name)
        _prev_put(self, group_name=group_name, max_group_prepared_capacity=max_group_prepared_capacity,
                  min_size=min_size, pool_state=pool_state, instance_reuse_policy=instance_reuse_policy)
        reconcile(group)


def describe_warm_pool(self: AutoScalingResponse) -> ActionResult:
    max_records = self._get_int_param("MaxRecords") or 50
    start = int(self._get_param("NextToken") or 0)
    with LOCK:
        group = _group(self.autoscaling_backend, self._get_param("AutoScalingGroupName"))
        instances = list(pool_of(group))
        config = group.warm_pool
    page = instances[start:start + max_records]
    next_token = str(start + max_records) if start + max_records < len(instances) else None
    return ActionResult({"WarmPoolConfiguration": config, "Instances": page, "NextToken": next_token})


def delete_warm_pool(self: AutoScalingResponse) -> EmptyResult:
    force = self._get_bool_param("ForceDelete", False)
    with LOCK:
        group = _group(self.autoscaling_backend, self._get_param("AutoScalingGroupName"))
        if group.warm_pool is not None:
            group.warm_pool.status = PENDING_DELETE
        if force:  # no hooks: every warm instance goes at once, waiting ones too
            for state in list(pool_of(group)):
                for action in actions.pending_for_instance(self.current_account, self.region, state.instance.id):
                    action.result_source, action.completed_at = "pool-deleted", iso_now()
                _terminate_now(group, state)
        else:
            begin_warm_termination(group, _settled(group))
        _drop_if_deleted(group)
    return EmptyResult()


def terminate_instance_in_auto_scaling_group(self: AutoScalingResponse) -> Any:
    instance_id = self._get_param("InstanceId")
    with LOCK:
        found = next(((g, s) for g in self.autoscaling_backend.autoscaling_groups.values()
                      for s in pool_of(g) if s.instance.id == instance_id), None)
        if found is None:
            return _prev_terminate(self)
        group, state = found
        if state.lifecycle_state in WARMED.values():  # one already waiting is not started twice
            begin_warm_termination(group, [state])
        return ActionResult({"Activity": TerminateInstanceActivity(state.instance, group.desired_capacity)})


def describe_auto_scaling_instances(self: AutoScalingBackend, instance_ids: list[str]) -> list[InstanceState]:
    with LOCK:
        warm = [s for g in self.autoscaling_groups.values() for s in pool_of(g)
                if not instance_ids or s.instance.id in instance_ids]
        return _prev_describe_instances(self, instance_ids) + warm


def notify_terminate_instances(self: AutoScalingBackend, instance_ids: list[str]) -> None:
    """EC2 TerminateInstances on a warm instance: it leaves the pool too."""
    with LOCK:
        _prev_notify_terminate(self, instance_ids)
        for group in self.autoscaling_groups.values():
            if any(s.instance.id in instance_ids for s in pool_of(group)):
                group._ext_warm = [s for s in pool_of(group) if s.instance.id not in instance_ids]
                _drop_if_deleted(group)


def delete_auto_scaling_group(self: AutoScalingBackend, group_name: str) -> None:
    """The group's warm instances are terminated with it (scalein.py closes their actions)."""
    with LOCK:
        group = self.autoscaling_groups.get(group_name)
        _prev_delete_group(self, group_name)
        alive = [s.instance.id for s in pool_of(group) if s.instance.state != "terminated"] if group else []
        if group is not None:
            group._ext_warm = []
        if alive:
            self.ec2_backend.terminate_instances(alive)


def _warm_pool_size(self: FakeAutoScalingGroup) -> int | None:
    return len(_held(self)) if getattr(self, "warm_pool", None) is not None else None


def install() -> None:
    """After scalein.install(): it wraps the methods scalein.py patched."""
    global _prev_set_desired, _prev_delete_group, _prev_terminate
    if FakeAutoScalingGroup.set_desired_capacity is set_desired_capacity:
        return
    _prev_set_desired = FakeAutoScalingGroup.set_desired_capacity
    _prev_delete_group = AutoScalingBackend.delete_auto_scaling_group
    _prev_terminate = AutoScalingResponse.terminate_instance_in_auto_scaling_group
    FakeAutoScalingGroup.set_desired_capacity = set_desired_capacity
    FakeAutoScalingGroup.warm_pool_size = property(_warm_pool_size)
    AutoScalingBackend.put_warm_pool = put_warm_pool
    AutoScalingBackend.describe_auto_scaling_instances = describe_auto_scaling_instances
    AutoScalingBackend.notify_terminate_instances = notify_terminate_instances
    AutoScalingBackend.delete_auto_scaling_group = delete_auto_scaling_group
    AutoScalingResponse.describe_warm_pool = describe_warm_pool
    AutoScalingResponse.delete_warm_pool = delete_warm_pool
    AutoScalingResponse.terminate_instance_in_auto_scaling_group = terminate_instance_in_auto_scaling_group
    actions.FINISHERS[PENDING_WAIT] = _finisher(returning=True)
    actions.FINISHERS[TERMINATING_WAIT] = _finisher(returning=False)
