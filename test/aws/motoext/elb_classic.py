"""Classic ELB: Register/DeregisterInstances reply shapes, and API deregistration.

moto 5.2.1 replies {"Instances": [[ids...]]} (a list inside the list), so SDKs parse zero
remaining instances; AWS replies Instances.member.N.InstanceId. Also, moto keeps an instance
that the Auto Scaling group registered even after DeregisterInstancesFromLoadBalancer names
it; AWS removes it whoever registered it. DescribeInstanceHealth stays moto's.
"""

from __future__ import annotations

from moto.core.responses import ActionResult
from moto.elb.exceptions import NoActiveLoadBalancerFoundError
from moto.elb.models import ELBBackend
from moto.elb.responses import ELBResponse

_orig_deregister = ELBBackend.deregister_instances


def _instances(load_balancer) -> list[dict[str, str]]:
    return [{"InstanceId": i} for i in dict.fromkeys(load_balancer.instance_ids)]


def _require(response: ELBResponse) -> str:
    name = response._get_param("LoadBalancerName")
    if response.elb_backend.get_load_balancer(name) is None:  # moto: HTTP 500
        raise NoActiveLoadBalancerFoundError(name=name)
    return name


def register_instances_with_load_balancer(self: ELBResponse) -> ActionResult:
    ids = [i["InstanceId"] for i in self._get_param("Instances", [])]
    load_balancer = self.elb_backend.register_instances(_require(self), ids)
    return ActionResult({"Instances": _instances(load_balancer)})


def deregister_instances_from_load_balancer(self: ELBResponse) -> ActionResult:
    ids = [i["InstanceId"] for i in self._get_param("Instances", [])]
    load_balancer = self.elb_backend.deregister_instances(_require(self), ids)
    return ActionResult({"Instances": _instances(load_balancer)})


def deregister_instances(self: ELBBackend, load_balancer_name, instance_ids, from_autoscaling=False):
    instance_ids = list(instance_ids)
    load_balancer = _orig_deregister(self, load_balancer_name, instance_ids, from_autoscaling)
    if not from_autoscaling:  # an API call: whoever registered the instance
        load_balancer = _orig_deregister(self, load_balancer_name, instance_ids, True)
    return load_balancer


def install() -> None:
    ELBResponse.register_instances_with_load_balancer = register_instances_with_load_balancer
    ELBResponse.deregister_instances_from_load_balancer = deregister_instances_from_load_balancer
    ELBBackend.deregister_instances = deregister_instances
