"""Tests for motoext/launches.py: launch lifecycle hooks hold new instances in Pending:Wait.

Run:  PY=$(scripts/moto-env.sh); $PY -m pytest test/aws -q
The server, clients and helpers are test_moto_ext.py's (this module starts its own server).
"""

from __future__ import annotations

import pytest

from test_moto_ext import LIFECYCLE_KEYS, ROLE, UUID, Aws, Server, wait_for

LAUNCHING = "autoscaling:EC2_INSTANCE_LAUNCHING"


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


def launch_hook(aws: Aws, group: str, arn: str, name: str = "launch", **kw) -> str:
    aws.asg.put_lifecycle_hook(AutoScalingGroupName=group, LifecycleHookName=name, LifecycleTransition=LAUNCHING,
                               NotificationTargetARN=arn, RoleARN=ROLE, **kw)
    return name


def complete(aws: Aws, group: str, instance_id: str, result: str, hook: str = "launch") -> None:
    aws.asg.complete_lifecycle_action(AutoScalingGroupName=group, LifecycleHookName=hook,
                                      LifecycleActionResult=result, InstanceId=instance_id)


def scale_out(aws: Aws, url: str, arn: str) -> tuple[str, str, dict]:
    """A one-instance group with a launch hook, scaled to two: (group, the new instance, its message)."""
    group = aws.group(1)
    (first,) = aws.instances(group)
    launch_hook(aws, group, arn)
    aws.receive(url, 1)  # TEST_NOTIFICATION
    aws.asg.set_desired_capacity(AutoScalingGroupName=group, DesiredCapacity=2)
    (new,) = set(aws.instances(group)) - {first}
    (msg,) = aws.receive(url, 1)
    return group, new, msg


def test_scale_out_waits_in_pending_wait_and_sends_the_launch_message(aws):
    url, arn = aws.queue()
    group, new, msg = scale_out(aws, url, arn)
    assert aws.instances(group)[new] == "Pending:Wait"
    described = aws.asg.describe_auto_scaling_instances(InstanceIds=[new])["AutoScalingInstances"]
    assert described[0]["LifecycleState"] == "Pending:Wait"
    assert aws.ec2_state(new) == "running"
    assert set(msg) == LIFECYCLE_KEYS
    assert (msg["Origin"], msg["Destination"]) == ("EC2", "AutoScalingGroup")
    assert msg["LifecycleTransition"] == LAUNCHING and msg["EC2InstanceId"] == new
    assert UUID.match(msg["LifecycleActionToken"])
    (action,) = aws.actions()
    assert (action["lifecycleTransition"], action["lifecycleState"], action["result"]) == (LAUNCHING, "Pending:Wait", None)
    # a waiting launch counts towards the desired capacity: nothing more is launched
    aws.asg.set_desired_capacity(AutoScalingGroupName=group, DesiredCapacity=2)
    assert len(aws.instances(group)) == 2


def test_heartbeat_then_continue_puts_it_in_service_and_in_its_target_groups(aws):
    tg = aws.target_group("launch-tg")
    url, arn = aws.queue()
    group = aws.group(1, TargetGroupARNs=[tg])
    (first,) = aws.instances(group)
    launch_hook(aws, group, arn)
    aws.receive(url, 1)
    aws.asg.set_desired_capacity(AutoScalingGroupName=group, DesiredCapacity=2)
    (new,) = set(aws.instances(group)) - {first}
    assert new not in {t for t, *_ in aws.health(tg)}  # not registered while it waits
    aws.asg.record_lifecycle_action_heartbeat(AutoScalingGroupName=group, LifecycleHookName="launch", InstanceId=new)
    complete(aws, group, new, "CONTINUE")
    assert aws.instances(group)[new] == "InService"
    assert new in {t for t, *_ in aws.health(tg)}
    (action,) = aws.actions()
    assert (action["heartbeats"], action["result"], action["resultSource"]) == (1, "CONTINUE", "complete")


def test_abandon_terminates_it_and_launches_a_replacement_that_waits_too(aws):
    url, arn = aws.queue()
    group, new, _msg = scale_out(aws, url, arn)
    complete(aws, group, new, "ABANDON")
    assert aws.ec2_state(new) in ("shutting-down", "terminated")
    states = aws.instances(group)
    assert new not in states and len(states) == 2
    (replacement,) = [i for i, s in states.items() if s == "Pending:Wait"]
    (msg,) = aws.receive(url, 1)
    assert msg["EC2InstanceId"] == replacement and msg["LifecycleTransition"] == LAUNCHING


def test_expiry_applies_the_default_result(aws):
    url, arn = aws.queue()
    group = aws.group(0)
    launch_hook(aws, group, arn, HeartbeatTimeout=1, DefaultResult="CONTINUE")
    aws.receive(url, 1)
    aws.asg.set_desired_capacity(AutoScalingGroupName=group, DesiredCapacity=1)
    (new,) = aws.instances(group)
    assert wait_for(lambda: aws.instances(group).get(new) == "InService", 5)
    assert aws.actions()[0]["resultSource"] == "expired"


def test_without_a_launch_hook_launches_go_in_service_at_once(aws):
    url, arn = aws.queue()
    group = aws.group(1)
    aws.hook(group, arn)  # a termination hook only
    aws.receive(url, 1)
    aws.asg.set_desired_capacity(AutoScalingGroupName=group, DesiredCapacity=2)
    assert sorted(aws.instances(group).values()) == ["InService", "InService"]
    aws.receive(url, 0)
    assert aws.actions() == []


def test_a_launch_into_the_warm_pool_waits_in_warmed_pending_wait(aws):
    url, arn = aws.queue()
    group = aws.group(1)
    launch_hook(aws, group, arn)
    aws.receive(url, 1)
    aws.asg.put_warm_pool(AutoScalingGroupName=group, MinSize=1, PoolState="Stopped")
    pool = aws.asg.describe_warm_pool(AutoScalingGroupName=group)["Instances"]
    ((warm, state),) = [(i["InstanceId"], i["LifecycleState"]) for i in pool]
    assert state == "Warmed:Pending:Wait" and aws.ec2_state(warm) == "running"
    (msg,) = aws.receive(url, 1)
    assert (msg["Origin"], msg["Destination"], msg["EC2InstanceId"]) == ("EC2", "WarmPool", warm)
    complete(aws, group, warm, "CONTINUE")
    pool = aws.asg.describe_warm_pool(AutoScalingGroupName=group)["Instances"]
    assert [(i["InstanceId"], i["LifecycleState"]) for i in pool] == [(warm, "Warmed:Stopped")]
    assert aws.ec2_state(warm) in ("stopping", "stopped")
