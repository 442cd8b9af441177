"""Tests for test/aws/moto_ext.py: boto3 against the real server, started as a subprocess.

Run:  PY=$(scripts/moto-env.sh); $PY -m pytest test/aws -q
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError

HERE = Path(__file__).resolve().parent
SCRIPT = HERE / "moto_ext.py"
ACCOUNT = "123456789012"
REGION = "us-east-1"
TERMINATING = "autoscaling:EC2_INSTANCE_TERMINATING"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/lifecycle-hook-role"
ISO_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
LIFECYCLE_KEYS = {"Origin", "Destination", "Service", "Time", "AccountId", "RequestId",
                  "LifecycleTransition", "LifecycleActionToken", "EC2InstanceId",
                  "LifecycleHookName", "AutoScalingGroupName"}
TEST_KEYS = {"AccountId", "RequestId", "AutoScalingGroupARN", "AutoScalingGroupName",
             "Service", "Event", "Time"}


# --- server ---------------------------------------------------------------------------


class Server:
    def __init__(self, host: str = "127.0.0.1") -> None:
        self.stderr = tempfile.TemporaryFile()
        started = time.monotonic()
        self.proc = subprocess.Popen(
            [sys.executable, str(SCRIPT), "-H", host, "-p", "0"],
            stdout=subprocess.PIPE, stderr=self.stderr, text=True, start_new_session=True)
        line: list[str] = []
        reader = threading.Thread(target=lambda: line.append(self.proc.stdout.readline()), daemon=True)
        reader.start()
        reader.join(30)
        self.ready_seconds = time.monotonic() - started
        if not line or not line[0].startswith("READY "):
            self.stop()
            self.stderr.seek(0)
            raise RuntimeError(f"no READY line: {line!r}\n{self.stderr.read().decode()[-3000:]}")
        self.ready_line = line[0].rstrip("\n")
        self.endpoint = self.ready_line.split(" ", 1)[1]

    def stop(self) -> tuple[int | None, float]:
        started = time.monotonic()
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            code = self.proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            code = self.proc.wait()
        return code, time.monotonic() - started


@pytest.fixture(scope="session")
def server():
    srv = Server()
    print(f"\nmoto_ext start to READY: {srv.ready_seconds:.2f}s", file=sys.stderr)
    yield srv
    code, seconds = srv.stop()
    assert code == 0, f"server exited {code}"
    assert seconds < 2.5


class Aws:
    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint
        kw = dict(endpoint_url=endpoint, region_name=REGION,
                  aws_access_key_id="test", aws_secret_access_key="test")
        for name in ("autoscaling", "ec2", "sqs", "sns", "elbv2", "elb", "iam"):
            setattr(self, name.replace("autoscaling", "asg"), boto3.client(name, **kw))
        self._lt = None

    # lifecycle inspection
    def actions(self) -> list[dict]:
        with urllib.request.urlopen(self.endpoint + "/_lifecycle/actions", timeout=5) as resp:
            assert resp.headers["Content-Type"] == "application/json"
            return json.load(resp)["actions"]

    def reset(self) -> None:
        req = urllib.request.Request(self.endpoint + "/moto-api/reset", method="POST")
        with urllib.request.urlopen(req, timeout=10) as resp:
            assert resp.status == 200

    # fixtures of state
    def queue(self) -> tuple[str, str]:
        url = self.sqs.create_queue(QueueName=f"q-{uuid.uuid4().hex[:10]}")["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        return url, arn

    def group(self, desired: int, **kw) -> str:
        if self._lt is None:
            self._lt = f"lt-{uuid.uuid4().hex[:8]}"
            self.ec2.create_launch_template(LaunchTemplateName=self._lt, LaunchTemplateData={
                "ImageId": "ami-12c6146b", "InstanceType": "t3.micro"})
        name = f"asg-{uuid.uuid4().hex[:8]}"
        self.asg.create_auto_scaling_group(
            AutoScalingGroupName=name, MinSize=0, MaxSize=10, DesiredCapacity=desired,
            LaunchTemplate={"LaunchTemplateName": self._lt}, AvailabilityZones=["us-east-1a"], **kw)
        return name

    def hook(self, group: str, target: str | None, name: str = "drain", **kw) -> str:
        args = dict(AutoScalingGroupName=group, LifecycleHookName=name,
                    LifecycleTransition=TERMINATING, **kw)
        if target:
            args.update(NotificationTargetARN=target, RoleARN=ROLE)
        self.asg.put_lifecycle_hook(**args)
        return name

    def instances(self, group: str) -> dict[str, str]:
        g = self.asg.describe_auto_scaling_groups(AutoScalingGroupNames=[group])["AutoScalingGroups"][0]
        return {i["InstanceId"]: i["LifecycleState"] for i in g["Instances"]}

    def ec2_state(self, instance_id: str) -> str:
        r = self.ec2.describe_instances(InstanceIds=[instance_id])["Reservations"]
        return r[0]["Instances"][0]["State"]["Name"]

    def receive(self, url: str, count: int, timeout: float = 5.0) -> list[dict]:
        """Exactly `count` messages (waits up to timeout for them, then 0.3 s for extras)."""
        got: list[dict] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and len(got) < count:
            got += self._take(url, 1)
        got += self._take(url, 0)  # nothing more should be there
        assert len(got) == count, got
        return got

    def _take(self, url: str, wait: int) -> list[dict]:
        out = self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=wait)
        msgs = out.get("Messages", [])
        for m in msgs:
            self.sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
        return [json.loads(m["Body"]) for m in msgs]

    def lifecycle_messages(self, url: str, count: int) -> list[dict]:
        return [m for m in self.receive(url, count) if m.get("Event") != "autoscaling:TEST_NOTIFICATION"]

    def target_group(self, name: str, port: int = 80, target_type: str = "instance") -> str:
        vpc = self.ec2.describe_vpcs()["Vpcs"][0]["VpcId"]
        return self.elbv2.create_target_group(Name=name, Protocol="HTTP", Port=port, VpcId=vpc,
                                              TargetType=target_type)["TargetGroups"][0]["TargetGroupArn"]

    def health(self, tg: str, targets: list[dict] | None = None) -> list[tuple]:
        kw = {"Targets": targets} if targets is not None else {}
        out = self.elbv2.describe_target_health(TargetGroupArn=tg, **kw)["TargetHealthDescriptions"]
        return sorted((d["Target"]["Id"], d["Target"]["Port"], d["TargetHealth"]["State"],
                       d["TargetHealth"].get("Reason")) for d in out)


@pytest.fixture(scope="session")
def clients(server):
    return Aws(server.endpoint)


@pytest.fixture
def aws(clients):
    clients.reset()
    clients._lt = None  # the reset removed it
    return clients


def error_of(excinfo) -> tuple[int, str, str]:
    r = excinfo.value.response
    return r["ResponseMetadata"]["HTTPStatusCode"], r["Error"]["Code"], r["Error"]["Message"]


def wait_for(predicate, timeout: float, step: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    return predicate()


# --- server process -------------------------------------------------------------------


def test_ready_line_and_clean_sigterm():
    srv = Server()
    assert re.fullmatch(r"READY http://127\.0\.0\.1:\d+", srv.ready_line)
    assert srv.ready_seconds < 10
    code, seconds = srv.stop()
    assert code == 0 and seconds < 2.0
    assert srv.proc.stdout.read() == ""  # nothing but the READY line on stdout


def test_refuses_non_loopback_address():
    out = subprocess.run([sys.executable, str(SCRIPT), "-H", "0.0.0.0", "-p", "0"],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 2 and "loopback" in out.stderr and out.stdout == ""


def test_aws_managed_policy_present(aws):
    arn = "arn:aws:iam::aws:policy/service-role/AutoScalingNotificationAccessRole"
    assert aws.iam.get_policy(PolicyArn=arn)["Policy"]["Arn"] == arn


# --- a. PutLifecycleHook -------------------------------------------------------------


def test_put_hook_stores_values_and_sends_test_notification(aws):
    url, arn = aws.queue()
    group = aws.group(1)
    aws.hook(group, arn, HeartbeatTimeout=2, NotificationMetadata='{"cluster":"c1"}')
    hook = aws.asg.describe_lifecycle_hooks(AutoScalingGroupName=group)["LifecycleHooks"][0]
    assert hook == {"LifecycleHookName": "drain", "AutoScalingGroupName": group,
                    "LifecycleTransition": TERMINATING, "NotificationTargetARN": arn,
                    "RoleARN": ROLE, "NotificationMetadata": '{"cluster":"c1"}',
                    "HeartbeatTimeout": 2, "GlobalTimeout": 200, "DefaultResult": "ABANDON"}
    (msg,) = aws.receive(url, 1)
    assert set(msg) == TEST_KEYS
    group_arn = aws.asg.describe_auto_scaling_groups(AutoScalingGroupNames=[group])["AutoScalingGroups"][0]["AutoScalingGroupARN"]
    assert msg["Event"] == "autoscaling:TEST_NOTIFICATION" and msg["Service"] == "AWS Auto Scaling"
    assert (msg["AccountId"], msg["AutoScalingGroupName"], msg["AutoScalingGroupARN"]) == (ACCOUNT, group, group_arn)
    assert ISO_MS.match(msg["Time"]) and UUID.match(msg["RequestId"])


def test_put_hook_update_keeps_unnamed_fields_and_caps_global_timeout(aws):
    _url, arn = aws.queue()
    group = aws.group(0)
    aws.hook(group, arn, HeartbeatTimeout=30, DefaultResult="CONTINUE", NotificationMetadata="m")
    aws.asg.put_lifecycle_hook(AutoScalingGroupName=group, LifecycleHookName="drain", HeartbeatTimeout=7200)
    hook = aws.asg.describe_lifecycle_hooks(AutoScalingGroupName=group)["LifecycleHooks"][0]
    assert (hook["NotificationTargetARN"], hook["RoleARN"], hook["NotificationMetadata"]) == (arn, ROLE, "m")
    assert (hook["HeartbeatTimeout"], hook["GlobalTimeout"], hook["DefaultResult"]) == (7200, 172800, "CONTINUE")


def test_put_hook_with_missing_target_fails_like_aws(aws):
    group = aws.group(0)
    missing = f"arn:aws:sqs:{REGION}:{ACCOUNT}:does-not-exist"
    with pytest.raises(ClientError) as e:
        aws.hook(group, missing)
    status, code, message = error_of(e)
    assert (status, code) == (400, "ValidationError")
    assert message.startswith(f"Unable to publish test message to notification target {missing}")
    assert aws.asg.describe_lifecycle_hooks(AutoScalingGroupName=group)["LifecycleHooks"] == []


def test_sns_target_delivers_sns_envelope(aws):
    url, queue_arn = aws.queue()
    topic = aws.sns.create_topic(Name=f"t-{uuid.uuid4().hex[:8]}")["TopicArn"]
    aws.sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    group = aws.group(1)
    aws.hook(group, topic)
    (envelope,) = aws.receive(url, 1)
    assert envelope["Type"] == "Notification" and envelope["TopicArn"] == topic
    assert json.loads(envelope["Message"])["Event"] == "autoscaling:TEST_NOTIFICATION"
    (instance,) = aws.instances(group)
    aws.asg.terminate_instance_in_auto_scaling_group(InstanceId=instance, ShouldDecrementDesiredCapacity=True)
    (envelope,) = aws.receive(url, 1)
    body = json.loads(envelope["Message"])
    assert envelope["Type"] == "Notification" and "TERMINATING" in envelope["Subject"]
    assert body["EC2InstanceId"] == instance and body["LifecycleTransition"] == TERMINATING


# --- b. Terminating:Wait --------------------------------------------------------------


def test_terminate_waits_sends_message_and_launches_replacement(aws):
    url, arn = aws.queue()
    group = aws.group(2)
    aws.hook(group, arn)
    aws.receive(url, 1)  # TEST_NOTIFICATION
    victim, survivor = sorted(aws.instances(group))
    activity = aws.asg.terminate_instance_in_auto_scaling_group(
        InstanceId=victim, ShouldDecrementDesiredCapacity=False)["Activity"]
    assert activity["Description"] == f"Terminating EC2 instance: {victim}"

    states = aws.instances(group)
    assert states[victim] == "Terminating:Wait" and states[survivor] == "InService"
    assert len(states) == 3 and list(states.values()).count("InService") == 2  # replacement
    described = aws.asg.describe_auto_scaling_instances(InstanceIds=[victim])["AutoScalingInstances"]
    assert described[0]["LifecycleState"] == "Terminating:Wait"
    assert aws.ec2_state(victim) == "running"
    g = aws.asg.describe_auto_scaling_groups(AutoScalingGroupNames=[group])["AutoScalingGroups"][0]
    assert g["DesiredCapacity"] == 2

    (msg,) = aws.receive(url, 1)
    assert set(msg) == LIFECYCLE_KEYS  # no NotificationMetadata when the hook has none
    assert msg["Origin"] == "AutoScalingGroup" and msg["Destination"] == "EC2"
    assert msg["Service"] == "AWS Auto Scaling" and msg["LifecycleTransition"] == TERMINATING
    assert (msg["EC2InstanceId"], msg["LifecycleHookName"], msg["AutoScalingGroupName"]) == (victim, "drain", group)
    assert msg["AccountId"] == ACCOUNT and ISO_MS.match(msg["Time"])
    assert UUID.match(msg["RequestId"]) and UUID.match(msg["LifecycleActionToken"])
    (action,) = aws.actions()
    assert action["token"] == msg["LifecycleActionToken"] and action["result"] is None


def test_terminate_with_decrement_and_not_twice(aws):
    url, arn = aws.queue()
    group = aws.group(2)
    aws.hook(group, arn, NotificationMetadata="meta")
    aws.receive(url, 1)
    victim = sorted(aws.instances(group))[0]
    aws.asg.terminate_instance_in_auto_scaling_group(InstanceId=victim, ShouldDecrementDesiredCapacity=True)
    (msg,) = aws.receive(url, 1)
    assert msg["NotificationMetadata"] == "meta"
    states = aws.instances(group)
    assert len(states) == 2 and states[victim] == "Terminating:Wait"  # no replacement
    g = aws.asg.describe_auto_scaling_groups(AutoScalingGroupNames=[group])["AutoScalingGroups"][0]
    assert g["DesiredCapacity"] == 1
    # again, both ways: nothing new happens
    aws.asg.terminate_instance_in_auto_scaling_group(InstanceId=victim, ShouldDecrementDesiredCapacity=True)
    aws.asg.terminate_instance_in_auto_scaling_group(InstanceId=victim, ShouldDecrementDesiredCapacity=False)
    aws.receive(url, 0)
    assert len(aws.actions()) == 1 and len(aws.instances(group)) == 2
    g = aws.asg.describe_auto_scaling_groups(AutoScalingGroupNames=[group])["AutoScalingGroups"][0]
    assert g["DesiredCapacity"] == 1


def test_scale_in_sends_one_message_per_removed_instance(aws):
    url, arn = aws.queue()
    group = aws.group(4)
    aws.hook(group, arn)
    aws.receive(url, 1)
    aws.asg.set_desired_capacity(AutoScalingGroupName=group, DesiredCapacity=2)
    msgs = aws.receive(url, 2)
    waiting = {m["EC2InstanceId"] for m in msgs}
    assert len(waiting) == 2 and len({m["LifecycleActionToken"] for m in msgs}) == 2
    states = aws.instances(group)
    assert len(states) == 4 and {i for i, s in states.items() if s == "Terminating:Wait"} == waiting
    assert all(aws.ec2_state(i) == "running" for i in waiting)

    aws.asg.update_auto_scaling_group(AutoScalingGroupName=group, DesiredCapacity=1)
    (msg,) = aws.receive(url, 1)
    assert msg["EC2InstanceId"] not in waiting
    assert list(aws.instances(group).values()).count("InService") == 1
    assert len(aws.actions()) == 3


def test_without_termination_hook_moto_behaviour_is_kept(aws):
    url, arn = aws.queue()
    group = aws.group(2)
    aws.asg.put_lifecycle_hook(AutoScalingGroupName=group, LifecycleHookName="launch",
                               LifecycleTransition="autoscaling:EC2_INSTANCE_LAUNCHING",
                               NotificationTargetARN=arn, RoleARN=ROLE)
    aws.receive(url, 1)
    victim = sorted(aws.instances(group))[0]
    aws.asg.terminate_instance_in_auto_scaling_group(InstanceId=victim, ShouldDecrementDesiredCapacity=False)
    states = aws.instances(group)
    # terminated at once; its replacement waits for the launch hook (test_launches.py)
    assert victim not in states and sorted(states.values()) == ["InService", "Pending:Wait"]
    assert aws.ec2_state(victim) == "terminated"
    (msg,) = aws.receive(url, 1)
    assert msg["LifecycleTransition"] == "autoscaling:EC2_INSTANCE_LAUNCHING"
    assert [a["lifecycleTransition"] for a in aws.actions()] == ["autoscaling:EC2_INSTANCE_LAUNCHING"]


# --- c. Complete / heartbeat ----------------------------------------------------------


def test_complete_terminates_and_second_complete_is_rejected(aws):
    url, arn = aws.queue()
    group = aws.group(1)
    aws.hook(group, arn)
    aws.receive(url, 1)
    (victim,) = aws.instances(group)
    tg = aws.target_group("other-tg")  # not attached to the group
    aws.elbv2.register_targets(TargetGroupArn=tg, Targets=[{"Id": victim}])
    aws.asg.terminate_instance_in_auto_scaling_group(InstanceId=victim, ShouldDecrementDesiredCapacity=True)
    aws.receive(url, 1)
    aws.asg.record_lifecycle_action_heartbeat(AutoScalingGroupName=group, LifecycleHookName="drain", InstanceId=victim)
    aws.asg.complete_lifecycle_action(AutoScalingGroupName=group, LifecycleHookName="drain",
                                      LifecycleActionResult="CONTINUE", InstanceId=victim)
    assert aws.instances(group) == {}
    assert aws.ec2_state(victim) == "terminated"
    assert aws.health(tg) == [(victim, 80, "draining", "Target.DeregistrationInProgress")]

    for call in (aws.asg.complete_lifecycle_action, aws.asg.record_lifecycle_action_heartbeat):
        kw = {"LifecycleActionResult": "CONTINUE"} if call == aws.asg.complete_lifecycle_action else {}
        with pytest.raises(ClientError) as e:
            call(AutoScalingGroupName=group, LifecycleHookName="drain", InstanceId=victim, **kw)
        assert error_of(e) == (400, "ValidationError", f"No active Lifecycle Action found with instance ID {victim}")
    (action,) = aws.actions()
    assert (action["result"], action["resultSource"], action["heartbeats"]) == ("CONTINUE", "complete", 1)
    assert (action["completeCalls"], action["rejectedCompleteCalls"]) == (1, 1)
    assert ISO_MS.match(action["completedAt"]) and ISO_MS.match(action["lastHeartbeatAt"])


def test_token_lookup_and_wrong_token(aws):
    url, arn = aws.queue()
    group = aws.group(1)
    aws.hook(group, arn)
    aws.receive(url, 1)
    (victim,) = aws.instances(group)
    aws.asg.terminate_instance_in_auto_scaling_group(InstanceId=victim, ShouldDecrementDesiredCapacity=True)
    token = aws.receive(url, 1)[0]["LifecycleActionToken"]
    wrong = str(uuid.uuid4())
    base = dict(AutoScalingGroupName=group, LifecycleHookName="drain", LifecycleActionResult="ABANDON")
    with pytest.raises(ClientError) as e:
        aws.asg.complete_lifecycle_action(LifecycleActionToken=wrong, **base)
    assert error_of(e) == (400, "ValidationError", f"No active Lifecycle Action found with token {wrong}")
    with pytest.raises(ClientError) as e:
        aws.asg.complete_lifecycle_action(LifecycleActionToken=wrong, InstanceId=victim, **base)
    assert error_of(e)[2] == f"No active Lifecycle Action found with instance ID {victim}"
    with pytest.raises(ClientError) as e:  # right instance, wrong hook
        aws.asg.record_lifecycle_action_heartbeat(AutoScalingGroupName=group, LifecycleHookName="other",
                                                  InstanceId=victim)
    assert error_of(e)[1] == "ValidationError"
    assert aws.instances(group) == {victim: "Terminating:Wait"}
    aws.asg.record_lifecycle_action_heartbeat(AutoScalingGroupName=group, LifecycleHookName="drain",
                                              LifecycleActionToken=token)
    aws.asg.complete_lifecycle_action(LifecycleActionToken=token, **base)
    assert aws.instances(group) == {} and aws.ec2_state(victim) == "terminated"
    (action,) = aws.actions()
    assert (action["result"], action["resultSource"], action["rejectedCompleteCalls"]) == ("ABANDON", "complete", 1)


def test_two_termination_hooks_wait_for_both(aws):
    url, arn = aws.queue()
    group = aws.group(1)
    aws.hook(group, arn, name="first")
    aws.hook(group, arn, name="second")
    aws.receive(url, 2)
    (victim,) = aws.instances(group)
    aws.asg.terminate_instance_in_auto_scaling_group(InstanceId=victim, ShouldDecrementDesiredCapacity=True)
    assert {m["LifecycleHookName"] for m in aws.receive(url, 2)} == {"first", "second"}
    aws.asg.complete_lifecycle_action(AutoScalingGroupName=group, LifecycleHookName="first",
                                      LifecycleActionResult="CONTINUE", InstanceId=victim)
    assert aws.instances(group) == {victim: "Terminating:Wait"}
    aws.asg.complete_lifecycle_action(AutoScalingGroupName=group, LifecycleHookName="second",
                                      LifecycleActionResult="CONTINUE", InstanceId=victim)
    assert aws.instances(group) == {} and aws.ec2_state(victim) == "terminated"


# --- d. expiry ------------------------------------------------------------------------


def test_heartbeat_resets_timeout_and_expiry_applies_default_result(aws):
    url, arn = aws.queue()
    group = aws.group(2)
    aws.hook(group, arn, HeartbeatTimeout=2, DefaultResult="CONTINUE")
    aws.receive(url, 1)
    silent, beating = sorted(aws.instances(group))
    aws.asg.set_desired_capacity(AutoScalingGroupName=group, DesiredCapacity=0)
    started = time.monotonic()
    aws.receive(url, 2)
    time.sleep(max(0.0, started + 1.2 - time.monotonic()))
    aws.asg.record_lifecycle_action_heartbeat(AutoScalingGroupName=group, LifecycleHookName="drain", InstanceId=beating)
    time.sleep(max(0.0, started + 2.6 - time.monotonic()))

    by_id = {a["instanceId"]: a for a in aws.actions()}
    assert (by_id[silent]["result"], by_id[silent]["resultSource"]) == ("CONTINUE", "expired")
    assert aws.ec2_state(silent) == "terminated"
    assert by_id[beating]["result"] is None and by_id[beating]["heartbeats"] == 1  # timeout was reset
    assert aws.instances(group) == {beating: "Terminating:Wait"}

    done = wait_for(lambda: {a["instanceId"]: a for a in aws.actions()}[beating]["resultSource"], 2.5)
    assert done == "expired" and time.monotonic() - started >= 3.1
    assert aws.instances(group) == {} and aws.ec2_state(beating) == "terminated"
    with pytest.raises(ClientError) as e:
        aws.asg.complete_lifecycle_action(AutoScalingGroupName=group, LifecycleHookName="drain",
                                          LifecycleActionResult="CONTINUE", InstanceId=silent)
    assert error_of(e)[2] == f"No active Lifecycle Action found with instance ID {silent}"


def test_expiry_default_abandon(aws):
    url, arn = aws.queue()
    group = aws.group(1)
    aws.hook(group, arn, HeartbeatTimeout=1)
    aws.receive(url, 1)
    (victim,) = aws.instances(group)
    aws.asg.terminate_instance_in_auto_scaling_group(InstanceId=victim, ShouldDecrementDesiredCapacity=True)
    action = wait_for(lambda: [a for a in aws.actions() if a["resultSource"]], 3)[0]
    assert (action["result"], action["resultSource"]) == ("ABANDON", "expired")
    assert aws.ec2_state(victim) == "terminated"


def test_global_timeout_caps_heartbeats():
    """GlobalTimeout (min(172800, 100 x HeartbeatTimeout)) ends an action however often it
    heartbeats; too slow to watch through the server (100 s at HeartbeatTimeout 1), so the
    deadline arithmetic is checked on the action object itself."""
    sys.path.insert(0, str(HERE))
    from motoext.actions import Action

    class Hook:
        name, default_result, heartbeat_timeout, global_timeout = "h", "CONTINUE", 2, 3

    action = Action(ACCOUNT, REGION, "g", "i-0123456789abcdef0", Hook)
    start = action.deadline() - 2
    time.sleep(0.05)
    action.beat()
    assert action.deadline() > start + 2  # a heartbeat moves the heartbeat deadline
    action._last_beat = start + 2.5       # as if it beat again at 2.5 s
    assert action.deadline() == pytest.approx(start + 3)  # but never past GlobalTimeout


# --- e. inspection / reset ------------------------------------------------------------


def test_reset_clears_lifecycle_actions(aws):
    url, arn = aws.queue()
    group = aws.group(1)
    aws.hook(group, arn)
    (victim,) = aws.instances(group)
    aws.asg.terminate_instance_in_auto_scaling_group(InstanceId=victim, ShouldDecrementDesiredCapacity=True)
    assert [a["instanceId"] for a in aws.actions()] == [victim]
    aws.reset()
    assert aws.actions() == []
    assert aws.asg.describe_auto_scaling_groups()["AutoScalingGroups"] == []


def test_deleting_hook_or_group_ends_pending_actions(aws):
    url, arn = aws.queue()
    g1, g2 = aws.group(1), aws.group(1)
    aws.hook(g1, arn)
    aws.hook(g2, arn)
    (i1,), (i2,) = aws.instances(g1), aws.instances(g2)
    for i in (i1, i2):
        aws.asg.terminate_instance_in_auto_scaling_group(InstanceId=i, ShouldDecrementDesiredCapacity=True)
    aws.asg.delete_lifecycle_hook(AutoScalingGroupName=g1, LifecycleHookName="drain")
    aws.asg.delete_auto_scaling_group(AutoScalingGroupName=g2)
    by_id = {a["instanceId"]: a for a in aws.actions()}
    assert (by_id[i1]["result"], by_id[i1]["resultSource"]) == ("CONTINUE", "hook-deleted")
    assert by_id[i2]["resultSource"] == "group-deleted"
    assert aws.ec2_state(i1) == "terminated" and aws.ec2_state(i2) == "terminated"
    # a group re-created under the same name does not inherit the deleted group's hooks
    aws.asg.create_auto_scaling_group(AutoScalingGroupName=g2, MinSize=0, MaxSize=2, DesiredCapacity=0,
                                      LaunchTemplate={"LaunchTemplateName": aws._lt},
                                      AvailabilityZones=["us-east-1a"])
    assert aws.asg.describe_lifecycle_hooks(AutoScalingGroupName=g2)["LifecycleHooks"] == []


# --- f. traffic sources ---------------------------------------------------------------


def test_describe_traffic_sources(aws):
    tg = aws.target_group("ts-tg")
    aws.elb.create_load_balancer(LoadBalancerName="classic", AvailabilityZones=["us-east-1a"],
                                 Listeners=[{"Protocol": "HTTP", "LoadBalancerPort": 80, "InstancePort": 8080}])
    group = aws.group(1, TargetGroupARNs=[tg], LoadBalancerNames=["classic"])
    sources = aws.asg.describe_traffic_sources(AutoScalingGroupName=group)["TrafficSources"]
    assert sorted((s["Identifier"], s["Type"]) for s in sources) == sorted([(tg, "elbv2"), ("classic", "elb")])
    only = aws.asg.describe_traffic_sources(AutoScalingGroupName=group, TrafficSourceType="elb")["TrafficSources"]
    assert [s["Identifier"] for s in only] == ["classic"]
    tgs = aws.asg.describe_load_balancer_target_groups(AutoScalingGroupName=group)["LoadBalancerTargetGroups"]
    assert [t["LoadBalancerTargetGroupARN"] for t in tgs] == [tg]
    lbs = aws.asg.describe_load_balancers(AutoScalingGroupName=group)["LoadBalancers"]
    assert [lb["LoadBalancerName"] for lb in lbs] == ["classic"]

    extra = aws.target_group("ts-tg-2")
    aws.asg.attach_traffic_sources(AutoScalingGroupName=group, TrafficSources=[{"Identifier": extra, "Type": "elbv2"}])
    aws.asg.detach_traffic_sources(AutoScalingGroupName=group, TrafficSources=[{"Identifier": "classic", "Type": "elb"}])
    sources = aws.asg.describe_traffic_sources(AutoScalingGroupName=group)["TrafficSources"]
    assert sorted(s["Identifier"] for s in sources) == sorted([tg, extra])
    (inst,) = aws.instances(group)
    assert aws.health(extra) == [(inst, 80, "healthy", None)]
    with pytest.raises(ClientError) as e:
        aws.asg.describe_traffic_sources(AutoScalingGroupName="no-such-group")
    assert error_of(e)[:2] == (400, "ValidationError")


def test_terminating_member_leaves_attached_target_group(aws):
    url, arn = aws.queue()
    tg = aws.target_group("att-tg")
    group = aws.group(1, TargetGroupARNs=[tg])
    aws.hook(group, arn)
    (victim,) = aws.instances(group)
    assert aws.health(tg) == [(victim, 80, "healthy", None)]
    aws.asg.terminate_instance_in_auto_scaling_group(InstanceId=victim, ShouldDecrementDesiredCapacity=False)
    replacement = next(i for i in aws.instances(group) if i != victim)
    assert aws.health(tg) == sorted([(victim, 80, "draining", "Target.DeregistrationInProgress"),
                                     (replacement, 80, "healthy", None)])


# --- g. ELBv2 targets -----------------------------------------------------------------


def test_multi_port_targets_and_draining_then_gone(aws):
    group = aws.group(1)
    (inst,) = aws.instances(group)
    tg = aws.target_group("mp-tg", port=80)
    aws.elbv2.modify_target_group_attributes(TargetGroupArn=tg, Attributes=[
        {"Key": "deregistration_delay.timeout_seconds", "Value": "2"}])
    aws.elbv2.register_targets(TargetGroupArn=tg, Targets=[{"Id": inst, "Port": 80}, {"Id": inst, "Port": 8080}])
    assert aws.health(tg) == [(inst, 80, "healthy", None), (inst, 8080, "healthy", None)]
    assert aws.health(tg, [{"Id": inst}]) == aws.health(tg)

    aws.elbv2.deregister_targets(TargetGroupArn=tg, Targets=[{"Id": inst, "Port": 8080}])
    deregistered = time.monotonic()
    draining = (inst, 8080, "draining", "Target.DeregistrationInProgress")
    assert aws.health(tg) == [(inst, 80, "healthy", None), draining]
    assert aws.health(tg, [{"Id": inst, "Port": 8080}]) == [draining]
    aws.elbv2.deregister_targets(TargetGroupArn=tg, Targets=[{"Id": inst, "Port": 8080}])  # no-op while draining

    wait_for(lambda: len(aws.health(tg)) == 1, 3.0)
    assert time.monotonic() - deregistered >= 1.9
    assert aws.health(tg) == [(inst, 80, "healthy", None)]
    assert aws.health(tg, [{"Id": inst, "Port": 8080}]) == [(inst, 8080, "unused", "Target.NotRegistered")]
    with pytest.raises(ClientError) as e:
        aws.elbv2.deregister_targets(TargetGroupArn=tg, Targets=[{"Id": inst, "Port": 8080}])
    assert error_of(e)[:2] == (400, "InvalidTarget")


def test_default_delay_is_300s_and_reregister_ends_draining(aws):
    group = aws.group(1)
    (inst,) = aws.instances(group)
    tg = aws.target_group("dd-tg")
    attrs = aws.elbv2.describe_target_group_attributes(TargetGroupArn=tg)["Attributes"]
    assert {a["Key"]: a["Value"] for a in attrs}["deregistration_delay.timeout_seconds"] == "300"
    aws.elbv2.register_targets(TargetGroupArn=tg, Targets=[{"Id": inst}])
    aws.elbv2.deregister_targets(TargetGroupArn=tg, Targets=[{"Id": inst}])
    assert aws.health(tg) == [(inst, 80, "draining", "Target.DeregistrationInProgress")]
    aws.elbv2.register_targets(TargetGroupArn=tg, Targets=[{"Id": inst}])
    assert aws.health(tg) == [(inst, 80, "healthy", None)]


def test_ip_targets(aws):
    tg = aws.target_group("ip-tg", port=8080, target_type="ip")
    aws.elbv2.modify_target_group_attributes(TargetGroupArn=tg, Attributes=[
        {"Key": "deregistration_delay.timeout_seconds", "Value": "0"}])
    aws.elbv2.register_targets(TargetGroupArn=tg, Targets=[{"Id": "10.0.1.5"}, {"Id": "10.0.1.5", "Port": 9090}])
    assert aws.health(tg) == [("10.0.1.5", 8080, "healthy", None), ("10.0.1.5", 9090, "healthy", None)]
    aws.elbv2.deregister_targets(TargetGroupArn=tg, Targets=[{"Id": "10.0.1.5", "Port": 8080}])
    assert aws.health(tg) == [("10.0.1.5", 9090, "healthy", None)]  # delay 0: gone at once
    assert aws.health(tg, [{"Id": "10.0.1.5", "Port": 8080}]) == [("10.0.1.5", 8080, "unused", "Target.NotRegistered")]


def test_deregister_from_deleted_target_group(aws):
    tg = aws.target_group("gone-tg")
    aws.elbv2.delete_target_group(TargetGroupArn=tg)
    with pytest.raises(ClientError) as e:
        aws.elbv2.deregister_targets(TargetGroupArn=tg, Targets=[{"Id": "i-0123456789abcdef0"}])
    assert error_of(e)[:2] == (400, "TargetGroupNotFound")


# --- h. classic ELB -------------------------------------------------------------------


def test_classic_elb_register_deregister_shapes(aws):
    group = aws.group(2)
    a, b = sorted(aws.instances(group))
    aws.elb.create_load_balancer(LoadBalancerName="clb", AvailabilityZones=["us-east-1a"],
                                 Listeners=[{"Protocol": "HTTP", "LoadBalancerPort": 80, "InstancePort": 80}])
    out = aws.elb.register_instances_with_load_balancer(LoadBalancerName="clb",
                                                        Instances=[{"InstanceId": a}, {"InstanceId": b}])
    assert sorted(i["InstanceId"] for i in out["Instances"]) == [a, b]
    out = aws.elb.deregister_instances_from_load_balancer(LoadBalancerName="clb", Instances=[{"InstanceId": a}])
    assert out["Instances"] == [{"InstanceId": b}]
    health = aws.elb.describe_instance_health(LoadBalancerName="clb")["InstanceStates"]
    assert [(h["InstanceId"], h["State"]) for h in health] == [(b, "InService")]
    asked = aws.elb.describe_instance_health(LoadBalancerName="clb", Instances=[{"InstanceId": a}])["InstanceStates"]
    assert all(h["State"] != "InService" for h in asked)  # moto: "Unknown"
    with pytest.raises(ClientError) as e:
        aws.elb.deregister_instances_from_load_balancer(LoadBalancerName="nope", Instances=[{"InstanceId": a}])
    assert error_of(e)[:2] == (400, "LoadBalancerNotFound")


def test_classic_elb_deregisters_group_registered_instance(aws):
    aws.elb.create_load_balancer(LoadBalancerName="asg-clb", AvailabilityZones=["us-east-1a"],
                                 Listeners=[{"Protocol": "HTTP", "LoadBalancerPort": 80, "InstancePort": 80}])
    group = aws.group(1, LoadBalancerNames=["asg-clb"])
    (inst,) = aws.instances(group)
    out = aws.elb.deregister_instances_from_load_balancer(LoadBalancerName="asg-clb", Instances=[{"InstanceId": inst}])
    assert out["Instances"] == []
