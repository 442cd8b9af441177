"""Tests for motoext/warm_pools.py: warm-pool instances and their termination hooks.

Run:  PY=$(scripts/moto-env.sh); $PY -m pytest test/aws -q
The server, clients and helpers are test_moto_ext.py's (this module starts its own server).
"""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from test_moto_ext import (LIFECYCLE_KEYS, TERMINATING, UUID, Aws, Server, error_of,
                           wait_for)


@pytest.fixture(scope="module")
def server():
    srv = Server()
    yield srv
    code, _seconds = srv.stop()
    assert code == 0


@pytest.fixture(scope="module")
def clients(server):
    return Aws(server.endpoint)


@pytest.fixture
def aws(clients):
    clients.reset()
    clients._lt = None  # the reset removed it
    return clients


REUSE = {"ReuseOnScaleIn": True}


def warm(aws: Aws, group: str) -> dict[str, str]:
    out = aws.asg.describe_warm_pool(AutoScalingGroupName=group)
    return {i["InstanceId"]: i["LifecycleState"] for i in out["Instances"]}


def asg_instances(aws: Aws, ids: list[str] | None = None) -> dict[str, tuple[str, str]]:
    out = aws.asg.describe_auto_scaling_instances(**({"InstanceIds": ids} if ids else {}))
    return {i["InstanceId"]: (i["AutoScalingGroupName"], i["LifecycleState"]) for i in out["AutoScalingInstances"]}


def describe_group(aws: Aws, group: str) -> dict:
    return aws.asg.describe_auto_scaling_groups(AutoScalingGroupNames=[group])["AutoScalingGroups"][0]


def private_ip(aws: Aws, instance_id: str) -> str:
    return aws.ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]["PrivateIpAddress"]


def complete(aws: Aws, group: str, instance_id: str, result: str = "CONTINUE", hook: str = "drain") -> None:
    aws.asg.complete_lifecycle_action(AutoScalingGroupName=group, LifecycleHookName=hook,
                                      LifecycleActionResult=result, InstanceId=instance_id)


# --- 1. the pool is filled --------------------------------------------------------------


def test_put_warm_pool_fills_pool_outside_the_group(aws):
    tg = aws.target_group("wp-tg")
    group = aws.group(1, TargetGroupARNs=[tg])
    (member,) = aws.instances(group)
    aws.asg.put_warm_pool(AutoScalingGroupName=group, MinSize=2)
    out = aws.asg.describe_warm_pool(AutoScalingGroupName=group)
    assert out["WarmPoolConfiguration"] == {"MinSize": 2, "PoolState": "Stopped"}
    assert len(out["Instances"]) == 2
    for inst in out["Instances"]:
        assert (inst["LifecycleState"], inst["HealthStatus"], inst["InstanceType"]) == ("Warmed:Stopped", "Healthy", "t3.micro")
        assert inst["AvailabilityZone"] == "us-east-1a" and inst["LaunchTemplate"]["LaunchTemplateName"] == aws._lt
        assert aws.ec2_state(inst["InstanceId"]) == "stopped"
    pool = warm(aws, group)
    assert asg_instances(aws) == {member: (group, "InService"), **{i: (group, "Warmed:Stopped") for i in pool}}
    g = describe_group(aws, group)
    assert [i["InstanceId"] for i in g["Instances"]] == [member]  # not members
    assert (g["DesiredCapacity"], g["WarmPoolSize"]) == (1, 2)
    assert aws.health(tg) == [(member, 80, "healthy", None)]  # never registered
    aws.asg.set_desired_capacity(AutoScalingGroupName=group, DesiredCapacity=0)  # no reuse policy: terminates
    assert aws.instances(group) == {} and warm(aws, group) == pool  # scale-in never picks warm ones

    # MaxGroupPreparedCapacity - desired wins over a smaller MinSize; PoolState picks the state
    other = aws.group(1)
    aws.asg.put_warm_pool(AutoScalingGroupName=other, MinSize=1, MaxGroupPreparedCapacity=4, PoolState="Running")
    assert list(warm(aws, other).values()) == ["Warmed:Running"] * 3
    assert all(aws.ec2_state(i) == "running" for i in warm(aws, other))
    third = aws.group(0)
    aws.asg.put_warm_pool(AutoScalingGroupName=third, MinSize=1, PoolState="Hibernated")
    ((hibernated, state),) = warm(aws, third).items()
    assert state == "Warmed:Hibernated" and aws.ec2_state(hibernated) == "stopped"
    with pytest.raises(ClientError) as e:
        aws.asg.put_warm_pool(AutoScalingGroupName=third, PoolState="Frozen")
    assert error_of(e)[:2] == (400, "ValidationError")


# --- 2. scale in with ReuseOnScaleIn -------------------------------------------------------


def test_scale_in_with_reuse_waits_in_warmed_pending_wait_then_enters_pool(aws):
    url, arn = aws.queue()
    tg = aws.target_group("reuse-tg")
    group = aws.group(2, TargetGroupARNs=[tg])
    aws.hook(group, arn)
    aws.receive(url, 1)
    aws.asg.put_warm_pool(AutoScalingGroupName=group, MinSize=0, InstanceReusePolicy=REUSE)
    assert warm(aws, group) == {}
    victim, survivor = aws.instances(group)  # moto removes the first in group order
    ip = private_ip(aws, victim)
    aws.asg.set_desired_capacity(AutoScalingGroupName=group, DesiredCapacity=1)

    (msg,) = aws.receive(url, 1)
    assert set(msg) == LIFECYCLE_KEYS
    assert (msg["Origin"], msg["Destination"], msg["LifecycleTransition"]) == ("AutoScalingGroup", "WarmPool", TERMINATING)
    assert (msg["EC2InstanceId"], msg["AutoScalingGroupName"]) == (victim, group) and UUID.match(msg["LifecycleActionToken"])
    assert aws.instances(group) == {survivor: "InService"}  # no replacement, not a member any more
    assert warm(aws, group) == {victim: "Warmed:Pending:Wait"}
    assert asg_instances(aws, [victim]) == {victim: (group, "Warmed:Pending:Wait")}
    assert aws.ec2_state(victim) == "running"
    assert aws.health(tg) == sorted([(victim, 80, "draining", "Target.DeregistrationInProgress"),
                                     (survivor, 80, "healthy", None)])
    (action,) = aws.actions()
    assert (action["lifecycleState"], action["origin"], action["destination"]) == ("Warmed:Pending:Wait", "AutoScalingGroup", "WarmPool")
    assert action["token"] == msg["LifecycleActionToken"] and action["lifecycleTransition"] == TERMINATING

    aws.asg.record_lifecycle_action_heartbeat(AutoScalingGroupName=group, LifecycleHookName="drain",
                                              LifecycleActionToken=msg["LifecycleActionToken"])
    complete(aws, group, victim)
    assert warm(aws, group) == {victim: "Warmed:Stopped"}
    assert aws.ec2_state(victim) == "stopped" and private_ip(aws, victim) == ip
    (action,) = aws.actions()
    assert (action["result"], action["resultSource"], action["heartbeats"]) == ("CONTINUE", "complete", 1)
    with pytest.raises(ClientError) as e:
        complete(aws, group, victim)
    assert error_of(e)[2] == f"No active Lifecycle Action found with instance ID {victim}"
    assert describe_group(aws, group)["DesiredCapacity"] == 1


def test_reuse_expiry_also_returns_to_pool_and_terminate_api_still_terminates(aws):
    url, arn = aws.queue()
    group = aws.group(2)
    aws.hook(group, arn, HeartbeatTimeout=1)  # DefaultResult ABANDON
    aws.receive(url, 1)
    aws.asg.put_warm_pool(AutoScalingGroupName=group, PoolState="Running", InstanceReusePolicy=REUSE)
    first, second = aws.instances(group)
    aws.asg.update_auto_scaling_group(AutoScalingGroupName=group, DesiredCapacity=1)
    aws.receive(url, 1)
    done = wait_for(lambda: [a for a in aws.actions() if a["resultSource"]], 3)
    assert [(a["instanceId"], a["result"], a["resultSource"]) for a in done] == [(first, "ABANDON", "expired")]
    assert warm(aws, group) == {first: "Warmed:Running"} and aws.ec2_state(first) == "running"

    # only scale in reuses: TerminateInstanceInAutoScalingGroup goes through Terminating:Wait
    aws.asg.terminate_instance_in_auto_scaling_group(InstanceId=second, ShouldDecrementDesiredCapacity=True)
    (msg,) = aws.receive(url, 1)
    assert (msg["Origin"], msg["Destination"], msg["EC2InstanceId"]) == ("AutoScalingGroup", "EC2", second)
    assert aws.instances(group) == {second: "Terminating:Wait"}
    action = aws.actions()[-1]
    assert (action["lifecycleState"], action["origin"], action["destination"]) == ("Terminating:Wait", "AutoScalingGroup", "EC2")
    complete(aws, group, second)
    assert aws.ec2_state(second) == "terminated" and warm(aws, group) == {first: "Warmed:Running"}


# --- 3. terminating warm instances ---------------------------------------------------------


def test_terminating_a_warm_instance_waits_in_warmed_terminating_wait(aws):
    url, arn = aws.queue()
    group = aws.group(1)
    aws.hook(group, arn, NotificationMetadata="m")
    aws.receive(url, 1)
    aws.asg.put_warm_pool(AutoScalingGroupName=group, MinSize=1)
    (member,), (warm_id,) = aws.instances(group), warm(aws, group)
    activity = aws.asg.terminate_instance_in_auto_scaling_group(
        InstanceId=warm_id, ShouldDecrementDesiredCapacity=False)["Activity"]
    assert activity["Description"] == f"Terminating EC2 instance: {warm_id}"
    (msg,) = aws.receive(url, 1)
    assert (msg["Origin"], msg["Destination"], msg["LifecycleTransition"]) == ("WarmPool", "EC2", TERMINATING)
    assert (msg["EC2InstanceId"], msg["NotificationMetadata"]) == (warm_id, "m")
    assert warm(aws, group) == {warm_id: "Warmed:Terminating:Wait"}
    assert asg_instances(aws, [warm_id]) == {warm_id: (group, "Warmed:Terminating:Wait")}
    assert aws.instances(group) == {member: "InService"} and describe_group(aws, group)["DesiredCapacity"] == 1
    aws.asg.terminate_instance_in_auto_scaling_group(InstanceId=warm_id, ShouldDecrementDesiredCapacity=False)
    aws.receive(url, 0)  # not started twice
    (action,) = aws.actions()
    assert (action["lifecycleState"], action["origin"], action["destination"]) == ("Warmed:Terminating:Wait", "WarmPool", "EC2")
    complete(aws, group, warm_id)
    assert aws.ec2_state(warm_id) == "terminated"
    assert warm(aws, group) == {} and asg_instances(aws) == {member: (group, "InService")}


def test_put_warm_pool_shrinking_terminates_the_surplus_through_the_hook(aws):
    url, arn = aws.queue()
    group = aws.group(0)
    aws.hook(group, arn)
    aws.receive(url, 1)
    aws.asg.put_warm_pool(AutoScalingGroupName=group, MinSize=3)
    aws.asg.put_warm_pool(AutoScalingGroupName=group, MinSize=1)
    msgs = aws.receive(url, 2)
    assert {(m["Origin"], m["Destination"]) for m in msgs} == {("WarmPool", "EC2")}
    leaving = {m["EC2InstanceId"] for m in msgs}
    states = warm(aws, group)
    assert len(states) == 3 and {i for i, s in states.items() if s == "Warmed:Terminating:Wait"} == leaving
    assert describe_group(aws, group)["WarmPoolSize"] == 1
    aws.asg.put_warm_pool(AutoScalingGroupName=group, MinSize=1)  # already on their way: nothing new
    aws.receive(url, 0)
    first, second = sorted(leaving)
    complete(aws, group, first, "ABANDON")
    complete(aws, group, second)
    assert all(aws.ec2_state(i) == "terminated" for i in leaving)
    assert list(warm(aws, group).values()) == ["Warmed:Stopped"]


def test_delete_warm_pool_waits_for_hooks_unless_forced(aws):
    url, arn = aws.queue()
    group = aws.group(0)
    aws.hook(group, arn)
    aws.receive(url, 1)
    aws.asg.put_warm_pool(AutoScalingGroupName=group, MinSize=2)
    a, b = sorted(warm(aws, group))
    aws.asg.delete_warm_pool(AutoScalingGroupName=group)
    assert len(aws.receive(url, 2)) == 2
    out = aws.asg.describe_warm_pool(AutoScalingGroupName=group)
    assert out["WarmPoolConfiguration"]["Status"] == "PendingDelete"
    assert warm(aws, group) == {a: "Warmed:Terminating:Wait", b: "Warmed:Terminating:Wait"}
    complete(aws, group, a)
    assert aws.asg.describe_warm_pool(AutoScalingGroupName=group)["WarmPoolConfiguration"]["Status"] == "PendingDelete"
    complete(aws, group, b)
    out = aws.asg.describe_warm_pool(AutoScalingGroupName=group)
    assert "WarmPoolConfiguration" not in out and out["Instances"] == []
    assert aws.ec2_state(a) == aws.ec2_state(b) == "terminated"

    aws.asg.put_warm_pool(AutoScalingGroupName=group, MinSize=1)
    (c,) = warm(aws, group)
    aws.asg.delete_warm_pool(AutoScalingGroupName=group, ForceDelete=True)
    aws.receive(url, 0)
    assert aws.ec2_state(c) == "terminated" and warm(aws, group) == {}
    assert "WarmPoolConfiguration" not in aws.asg.describe_warm_pool(AutoScalingGroupName=group)


# --- 4. without a termination hook ---------------------------------------------------------


def test_without_termination_hook_everything_is_immediate(aws):
    group = aws.group(2)
    aws.asg.put_warm_pool(AutoScalingGroupName=group, MinSize=2, InstanceReusePolicy=REUSE)
    pool = sorted(warm(aws, group))
    victim = next(iter(aws.instances(group)))
    aws.asg.set_desired_capacity(AutoScalingGroupName=group, DesiredCapacity=1)
    assert warm(aws, group)[victim] == "Warmed:Stopped" and aws.ec2_state(victim) == "stopped"
    aws.asg.terminate_instance_in_auto_scaling_group(InstanceId=pool[0], ShouldDecrementDesiredCapacity=False)
    assert aws.ec2_state(pool[0]) == "terminated" and pool[0] not in warm(aws, group)
    aws.asg.put_warm_pool(AutoScalingGroupName=group, MinSize=1)  # holds 2 (victim, pool[1])
    assert len(warm(aws, group)) == 1
    aws.asg.delete_warm_pool(AutoScalingGroupName=group)
    out = aws.asg.describe_warm_pool(AutoScalingGroupName=group)
    assert "WarmPoolConfiguration" not in out and out["Instances"] == []
    assert aws.ec2_state(victim) == aws.ec2_state(pool[1]) == "terminated"
    assert aws.actions() == []


def test_deleting_the_group_terminates_its_warm_instances(aws):
    url, arn = aws.queue()
    group = aws.group(1)
    aws.hook(group, arn)
    aws.asg.put_warm_pool(AutoScalingGroupName=group, MinSize=2, InstanceReusePolicy=REUSE)
    waiting, settled = sorted(warm(aws, group))
    aws.asg.terminate_instance_in_auto_scaling_group(InstanceId=waiting, ShouldDecrementDesiredCapacity=False)
    aws.asg.delete_auto_scaling_group(AutoScalingGroupName=group, ForceDelete=True)
    assert aws.ec2_state(waiting) == aws.ec2_state(settled) == "terminated"
    assert [a["resultSource"] for a in aws.actions()] == ["group-deleted"]
    assert asg_instances(aws) == {}
