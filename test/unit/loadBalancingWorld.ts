import { vi } from 'vitest';
import type { DeregistrationRequest, EventRecorder, NodeEvent, NodeInfo } from '../../src/lifecycle/ports.js';
import { createLoadBalancing } from '../../src/loadbalancing/createDeregistrar.js';
import type { DiscoveryMode } from '../../src/loadbalancing/discovery.js';
import type { BoundTargetGroup } from '../../src/loadbalancing/ports.js';
import { createLogger } from '../../src/observability/logger.js';
import { Metrics } from '../../src/observability/metrics.js';
import { FakeLoadBalancers } from './fakeLoadBalancers.js';

/** The load-balancer module over in-memory fakes of its ports, for unit tests of discovery and deregistration. */
export class Events implements EventRecorder {
  readonly published: Array<{ node: string } & NodeEvent> = [];
  publish(node: Pick<NodeInfo, 'name' | 'uid'>, event: NodeEvent): void {
    this.published.push({ node: node.name, ...event });
  }
}

export function node(n: number, privateIp: string): NodeInfo {
  return { name: `node-${n}`, uid: `uid-${n}`, instanceId: `i-${n}`, ready: 'True', privateIps: [privateIp], unschedulable: true, creationTimestamp: new Date(0) };
}

export function world(mode: DiscoveryMode, types = { targetGroups: true, classicLoadBalancers: true }, apiRatePerSecond = 1_000) {
  const elb = new FakeLoadBalancers();
  /** The cluster's TargetGroupBindings, as the watch would report them. */
  const bindings: BoundTargetGroup[] = [];
  const events = new Events();
  const metrics = new Metrics({ defaultMetrics: false });
  const lines: string[] = [];
  const log = createLogger({ level: 'debug', format: 'text', write: (l) => lines.push(l) });
  const { deregistrar, buildIndex } = createLoadBalancing(
    { targetGroups: elb, classic: elb, trafficSources: elb, bindings: { current: () => bindings } },
    { ...types, discovery: mode, scanTtlSeconds: 60, apiRatePerSecond },
    { events, metrics, log, isClusterInstance: (id) => id.startsWith('i-') },
  );
  let vpcReads = 0;
  const request = (n: number, extra: Partial<DeregistrationRequest> = {}): DeregistrationRequest => ({
    instanceId: `i-${n}`, autoScalingGroupName: 'asg', node: node(n, `172.31.0.${n}`), podIps: [`10.1.${n}.1`], log: log.child(`i-${n}`),
    instanceVpc: async () => { vpcReads++; return 'vpc-1'; }, awaitDrained: true, ...extra,
  });
  const bind = (arn: string, extra: Partial<BoundTargetGroup> = {}): void => {
    bindings.push({ binding: `default/tgb-${bindings.length}`, arn, name: undefined, targetType: 'instance', vpcId: 'vpc-1', ...extra });
  };
  return { elb, events, metrics, lines, deregistrar, request, bind, buildIndex: () => buildIndex(live()), vpcReads: () => vpcReads };
}

export const live = (): AbortSignal => new AbortController().signal;
export const value = async (m: { get(): Promise<{ values: Array<{ value: number }> }> }): Promise<number> => (await m.get()).values.reduce((a, v) => a + v.value, 0);

export async function run<T>(p: Promise<T>): Promise<T> {
  void p.catch(() => undefined);
  await vi.runAllTimersAsync();
  return p;
}

