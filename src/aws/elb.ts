import {
  DeregisterInstancesFromLoadBalancerCommand,
  DescribeInstanceHealthCommand,
  DescribeLoadBalancersCommand,
  type ElasticLoadBalancingClient,
} from '@aws-sdk/client-elastic-load-balancing';
import { ResourceGoneError } from '../lifecycle/errors.js';
import type { ClassicLoadBalancerSummary, ClassicLoadBalancersPort, InstanceHealth } from '../loadbalancing/ports.js';
import { awsErrorName, toDomainError } from './errors.js';

type Elb = Pick<ElasticLoadBalancingClient, 'send'>;

const NOT_FOUND = new Set(['LoadBalancerNotFound', 'AccessPointNotFoundException']);
const INVALID_INSTANCE = new Set(['InvalidInstance', 'InvalidEndPointException']);
const PAGE_SIZE = 400;

/**
 * Classic load balancers, one SDK call per method (plus pagination). A load balancer that no longer exists →
 * ResourceGoneError; InvalidInstance on a deregistration → 'invalid-instance'; the rest via toDomainError.
 */
export class AwsClassicLoadBalancers implements ClassicLoadBalancersPort {
  constructor(private readonly client: Elb) {}

  async listLoadBalancers(signal: AbortSignal): Promise<ClassicLoadBalancerSummary[]> {
    const all: ClassicLoadBalancerSummary[] = [];
    let marker: string | undefined;
    do {
      const out = await this.send('DescribeLoadBalancers', undefined, () =>
        this.client.send(new DescribeLoadBalancersCommand({ PageSize: PAGE_SIZE, ...(marker ? { Marker: marker } : {}) }), { abortSignal: signal }));
      for (const lb of out.LoadBalancerDescriptions ?? []) {
        if (!lb.LoadBalancerName) continue;
        all.push({ name: lb.LoadBalancerName, instanceIds: (lb.Instances ?? []).flatMap((i) => (i.InstanceId ? [i.InstanceId] : [])) });
      }
      marker = out.NextMarker;
    } while (marker);
    return all;
  }

  async describeInstanceHealth(name: string, signal: AbortSignal): Promise<InstanceHealth[]> {
    const out = await this.send('DescribeInstanceHealth', name, () =>
      this.client.send(new DescribeInstanceHealthCommand({ LoadBalancerName: name }), { abortSignal: signal }));
    return (out.InstanceStates ?? []).flatMap((s) => (s.InstanceId ? [{ instanceId: s.InstanceId, state: s.State ?? 'Unknown' }] : []));
  }

  async deregisterInstances(name: string, instanceIds: readonly string[], signal: AbortSignal): Promise<'deregistered' | 'invalid-instance'> {
    try {
      await this.client.send(new DeregisterInstancesFromLoadBalancerCommand({
        LoadBalancerName: name, Instances: instanceIds.map((id) => ({ InstanceId: id })),
      }), { abortSignal: signal });
      return 'deregistered';
    } catch (e) {
      if (INVALID_INSTANCE.has(awsErrorName(e))) return 'invalid-instance';
      throw mapError(e, name, 'elasticloadbalancing:DeregisterInstancesFromLoadBalancer');
    }
  }

  private async send<T>(operation: string, name: string | undefined, call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (e) {
      throw mapError(e, name, `elasticloadbalancing:${operation}`);
    }
  }
}

function mapError(e: unknown, name: string | undefined, operation: string): unknown {
  if (name && NOT_FOUND.has(awsErrorName(e))) return new ResourceGoneError(`classic load balancer ${name}`, { cause: e });
  return toDomainError(e, operation);
}
