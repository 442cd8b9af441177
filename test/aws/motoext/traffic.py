"""DescribeTrafficSources (moto 5.2.1 answers HTTP 500) plus Attach/DetachTrafficSources.

Traffic sources are the group's target groups ({Identifier: arn, Type: "elbv2"}) and classic
load balancers ({Identifier: name, Type: "elb"}), i.e. the same state that
DescribeLoadBalancerTargetGroups / DescribeLoadBalancers (Auto Scaling) report.
"""

from __future__ import annotations

from moto.autoscaling.responses import AutoScalingResponse
from moto.core.responses import ActionResult, EmptyResult

from .common import LOCK, ValidationError

TYPES = ("elbv2", "elb")


def _group(response: AutoScalingResponse):
    name = response._get_param("AutoScalingGroupName")
    group = response.autoscaling_backend.autoscaling_groups.get(name)
    if group is None:
        raise ValidationError(f"AutoScalingGroup name not found - AutoScalingGroup {name} not found")
    return group


def describe_traffic_sources(self: AutoScalingResponse) -> ActionResult:
    wanted = self._get_param("TrafficSourceType")
    max_records = self._get_int_param("MaxRecords") or 50
    start = int(self._get_param("NextToken") or 0)
    with LOCK:
        group = _group(self)
        state = "InService" if "ELB" in (group.health_check_type or "") else "Added"
        sources = [{"TrafficSource": arn, "Identifier": arn, "Type": "elbv2", "State": state}
                   for arn in group.target_group_arns]
        sources += [{"TrafficSource": name, "Identifier": name, "Type": "elb", "State": state}
                    for name in group.load_balancer_names]
    if wanted:
        sources = [s for s in sources if s["Type"] == wanted]
    page = sources[start:start + max_records]
    next_token = str(start + max_records) if start + max_records < len(sources) else None
    return ActionResult({"TrafficSources": page, "NextToken": next_token})


def _split(response: AutoScalingResponse) -> tuple[list[str], list[str]]:
    sources = response._get_param("TrafficSources", [])
    bad = [s.get("Type") for s in sources if s.get("Type", "elbv2") not in TYPES]
    if bad:
        raise ValidationError(f"Unsupported traffic source type: {bad[0]}")
    arns = [s["Identifier"] for s in sources if s.get("Type", "elbv2") == "elbv2"]
    names = [s["Identifier"] for s in sources if s.get("Type") == "elb"]
    return arns, names


def attach_traffic_sources(self: AutoScalingResponse) -> EmptyResult:
    with LOCK:
        group = _group(self)
        arns, names = _split(self)
        if arns:
            self.autoscaling_backend.attach_load_balancer_target_groups(group.name, arns)
        if names:
            self.autoscaling_backend.attach_load_balancers(group.name, names)
    return EmptyResult()


def detach_traffic_sources(self: AutoScalingResponse) -> EmptyResult:
    with LOCK:
        group = _group(self)
        arns, names = _split(self)
        if arns:
            self.autoscaling_backend.detach_load_balancer_target_groups(group.name, arns)
        if names:
            self.autoscaling_backend.detach_load_balancers(group.name, names)
    return EmptyResult()


def install() -> None:
    AutoScalingResponse.describe_traffic_sources = describe_traffic_sources
    AutoScalingResponse.attach_traffic_sources = attach_traffic_sources
    AutoScalingResponse.detach_traffic_sources = detach_traffic_sources
