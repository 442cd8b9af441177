import {
  type AutoScalingClient,
  DescribeLoadBalancerTargetGroupsCommand,
  DescribeLoadBalancersCommand,
  DescribeTrafficSourcesCommand,
} from '@aws-sdk/client-auto-scaling';
import type { TrafficSources, TrafficSourcesPort } from '../loadbalancing/ports.js';
import { awsErrorName, toDomainError } from './errors.js';

type AutoScaling = Pick<AutoScalingClient, 'send'>;

const UNSUPPORTED = new Set(['UnknownOperationException', 'InvalidAction', 'UnknownOperation', 'NotImplemented']);
const NONE: TrafficSources = { targetGroupArns: [], loadBalancerNames: [] };

/**
 * The load balancers an Auto Scaling group is attached to: DescribeTrafficSources (elbv2 → target group ARNs, elb →
 * classic names; other kinds such as VPC Lattice are ignored). Where that API is not available the older
 * DescribeLoadBalancerTargetGroups + DescribeLoadBalancers answer the same question. A group that does not exist
 * has none (ValidationError).
 */
export class AwsTrafficSources implements TrafficSourcesPort {
  constructor(private readonly client: AutoScaling) {}

  async describeTrafficSources(autoScalingGroupName: string, signal: AbortSignal): Promise<TrafficSources> {
    try {
      return await this.trafficSources(autoScalingGroupName, signal);
    } catch (e) {
      if (awsErrorName(e) === 'ValidationError') return NONE;
      if (!UNSUPPORTED.has(awsErrorName(e))) throw toDomainError(e, 'autoscaling:DescribeTrafficSources');
    }
    try {
      return await this.attachments(autoScalingGroupName, signal);
    } catch (e) {
      if (awsErrorName(e) === 'ValidationError') return NONE;
      throw toDomainError(e, 'autoscaling:DescribeLoadBalancerTargetGroups');
    }
  }

  private async trafficSources(group: string, signal: AbortSignal): Promise<TrafficSources> {
    const targetGroupArns: string[] = [];
    const loadBalancerNames: string[] = [];
    let token: string | undefined;
    do {
      const out = await this.client.send(new DescribeTrafficSourcesCommand({ AutoScalingGroupName: group, ...(token ? { NextToken: token } : {}) }), { abortSignal: signal });
      for (const s of out.TrafficSources ?? []) {
        const id = s.Identifier ?? s.TrafficSource;
        if (!id || isLeaving(s.State)) continue;
        if (s.Type === 'elbv2') targetGroupArns.push(id);
        else if (s.Type === 'elb') loadBalancerNames.push(id);
      }
      token = out.NextToken;
    } while (token);
    return { targetGroupArns, loadBalancerNames };
  }

  private async attachments(group: string, signal: AbortSignal): Promise<TrafficSources> {
    const targetGroupArns: string[] = [];
    const loadBalancerNames: string[] = [];
    let token: string | undefined;
    do {
      const out = await this.client.send(new DescribeLoadBalancerTargetGroupsCommand({ AutoScalingGroupName: group, ...(token ? { NextToken: token } : {}) }), { abortSignal: signal });
      for (const t of out.LoadBalancerTargetGroups ?? []) if (t.LoadBalancerTargetGroupARN && !isLeaving(t.State)) targetGroupArns.push(t.LoadBalancerTargetGroupARN);
      token = out.NextToken;
    } while (token);
    do {
      const out = await this.client.send(new DescribeLoadBalancersCommand({ AutoScalingGroupName: group, ...(token ? { NextToken: token } : {}) }), { abortSignal: signal });
      for (const lb of out.LoadBalancers ?? []) if (lb.LoadBalancerName && !isLeaving(lb.State)) loadBalancerNames.push(lb.LoadBalancerName);
      token = out.NextToken;
    } while (token);
    return { targetGroupArns, loadBalancerNames };
  }
}

/** `Removed`: the attachment is gone (`Removing` still counts: its instances may still be registered). */
function isLeaving(state: string | undefined): boolean {
  return state === 'Removed';
}
