"""Launch lifecycle hooks: an instance launched into a group with a launch hook waits in Pending:Wait.

moto 5.2.1 puts every launched instance straight InService, even with an
autoscaling:EC2_INSTANCE_LAUNCHING hook. Here, when the group has such a hook, each instance moto
launches for it (scale-out, a replacement after a termination, CreateAutoScalingGroup never: no
hook exists yet) stays in Pending:Wait, running, with one action per launch hook and the hook's
message (Origin EC2, Destination AutoScalingGroup). When its last action ends:
* CONTINUE: InService, and attached to the group's load balancers and target groups;
* ABANDON: terminated, and a replacement is launched (which waits in Pending:Wait in turn), as AWS does.
A launch into a warm pool (PutWarmPool filling it) waits in Warmed:Pending:Wait (Origin EC2,
Destination WarmPool) with the EC2 instance running; CONTINUE stops it into the pool
(Warmed:<PoolState>), ABANDON terminates it and the pool is refilled. A Pending:Wait instance counts
towards the desired capacity (moto would launch another for it otherwise). Instances leaving the
warm pool for the group are not modelled (scale-out launches new instances, as moto does).
"""

from __future__ import annotations

import threading
from typing import Any

from moto.autoscaling.models import FakeAutoScalingGroup, InstanceState, autoscaling_backends

from . import actions, scalein, warm_pools
from .common import LAUNCHING, LOCK
from .hooks import launch_hooks

PENDING_WAIT = "Pending:Wait"
WARM_PENDING_WAIT = "Warmed:Pending:Wait"

_orig_replace = FakeAutoScalingGroup.replace_autoscaling_group_instances
_prev_launch_into_pool = warm_pools._launch
_into_pool = threading.local()  # set while warm_pools launches into the pool


def _hooks(group: FakeAutoScalingGroup) -> list[Any]:
    if getattr(scalein._bypass, "on", False):
        return []
    return launch_hooks(group.autoscaling_backend, group.name)


def replace_autoscaling_group_instances(self: FakeAutoScalingGroup, count_needed: int,
                                        propagated_tags: dict[str, str]) -> None:
    with LOCK:
        hooks = [] if getattr(_into_pool, "on", False) else _hooks(self)
        before = {id(s) for s in self.instance_states}
        _orig_replace(self, count_needed, propagated_tags)
        if not hooks:
            return
        for state in [s for s in self.instance_states if id(s) not in before]:
            state.lifecycle_state = PENDING_WAIT
            actions.start(self.autoscaling_backend, self, state.instance.id, hooks,
                          lifecycle_state=PENDING_WAIT, origin="EC2", destination="AutoScalingGroup",
                          transition=LAUNCHING)


def active_instances(self: FakeAutoScalingGroup) -> list[InstanceState]:
    """InService, and Pending:Wait: a launch waiting for its hook is part of the desired capacity."""
    return [s for s in self.instance_states if s.lifecycle_state in ("InService", PENDING_WAIT)]


def _launch_into_pool(group: FakeAutoScalingGroup, count: int) -> None:
    hooks = _hooks(group)
    if not hooks:
        return _prev_launch_into_pool(group, count)
    before = {id(s) for s in group.instance_states}
    _into_pool.on = True
    try:
        _orig_replace(group, count, group.get_propagated_tags())
    finally:
        _into_pool.on = False
    new = [s for s in group.instance_states if id(s) not in before]
    group.instance_states = [s for s in group.instance_states if id(s) in before]
    for state in new:
        warm_pools.pool_of(group).append(state)
        state.lifecycle_state = WARM_PENDING_WAIT  # running, until the hook is done: then stopped
        actions.start(group.autoscaling_backend, group, state.instance.id, hooks,
                      lifecycle_state=WARM_PENDING_WAIT, origin="EC2", destination="WarmPool",
                      transition=LAUNCHING)
    return None


def _group(account: str, region: str, name: str) -> FakeAutoScalingGroup | None:
    return autoscaling_backends[account][region].autoscaling_groups.get(name)


def finish_launch(account: str, region: str, group_name: str, instance_id: str, result: str | None) -> None:
    group = _group(account, region, group_name)
    state = next((s for s in group.instance_states if s.instance.id == instance_id), None) if group else None
    if state is None:
        return
    backend = group.autoscaling_backend
    if result == "CONTINUE":
        state.lifecycle_state = "InService"
        backend.update_attached_elbs(group_name)
        backend.update_attached_target_groups(group_name)
        return
    # ABANDON: Pending:Proceed never comes; the instance is terminated and replaced
    group.instance_states = [s for s in group.instance_states if s is not state]
    if state.instance.state != "terminated":
        backend.ec2_backend.terminate_instances([instance_id])
    group.set_desired_capacity(group.desired_capacity)


def finish_warm_launch(account: str, region: str, group_name: str, instance_id: str, result: str | None) -> None:
    group = _group(account, region, group_name)
    state = next((s for s in warm_pools.pool_of(group) if s.instance.id == instance_id), None) if group else None
    if state is None:
        return
    if result == "CONTINUE" and not warm_pools._deleting(group):
        warm_pools._settle(group, state)
        return
    warm_pools._terminate_now(group, state)
    warm_pools.reconcile(group)


def install() -> None:
    """After warm_pools.install()."""
    FakeAutoScalingGroup.replace_autoscaling_group_instances = replace_autoscaling_group_instances
    FakeAutoScalingGroup.active_instances = active_instances
    warm_pools._launch = _launch_into_pool
    actions.LAUNCH_FINISHERS[PENDING_WAIT] = finish_launch
    actions.LAUNCH_FINISHERS[WARM_PENDING_WAIT] = finish_warm_launch
