import { ResourceGoneError } from '../../src/lifecycle/errors.js';
import type {
  ClassicLoadBalancerSummary, ClassicLoadBalancersPort, InstanceHealth, TargetGroupSummary, TargetGroupsPort, TargetHealth, TargetRef,
  TrafficSources, TrafficSourcesPort,
} from '../../src/loadbalancing/ports.js';

interface FakeGroup {
  readonly summary: TargetGroupSummary;
  delaySeconds: number;
  /** key `id:port` → draining-until (epoch ms) or undefined while registered. */
  readonly targets: Map<string, { id: string; port: number; drainingUntilMs: number | undefined }>;
}

export interface FakeCall {
  readonly op: string;
  readonly on: string;
  readonly items: readonly string[];
}

/**
 * Elastic Load Balancing and Auto Scaling traffic sources in memory, with AWS's draining semantics on the clock
 * (Date.now, so vitest fake timers drive it): DeregisterTargets drains a target for the group's delay, then it is
 * gone; a filtered DescribeTargetHealth reports an unregistered target `unused`. Records every call.
 */
export class FakeLoadBalancers implements TargetGroupsPort, ClassicLoadBalancersPort, TrafficSourcesPort {
  readonly calls: FakeCall[] = [];
  readonly groups = new Map<string, FakeGroup>();
  readonly classic = new Map<string, Set<string>>();
  readonly sources = new Map<string, TrafficSources>();
  /** Makes the next calls of an operation fail with the given error (each entry used once). */
  readonly failures = new Map<string, unknown[]>();
  /** Called on every call, after it is recorded (e.g. to delete a group mid-flow). */
  onCall: (call: FakeCall) => void = () => {};

  addTargetGroup(name: string, options: { targetType?: string; delaySeconds?: number; vpcId?: string } = {}): string {
    const arn = `arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/${name}/${this.groups.size.toString(16).padStart(16, '0')}`;
    this.groups.set(arn, {
      summary: { arn, name, targetType: options.targetType ?? 'instance', vpcId: options.vpcId ?? 'vpc-1' },
      delaySeconds: options.delaySeconds ?? 300, targets: new Map(),
    });
    return arn;
  }

  register(arn: string, id: string, port: number): void {
    this.group(arn).targets.set(`${id}:${port}`, { id, port, drainingUntilMs: undefined });
  }

  deleteTargetGroup(arn: string): void {
    this.groups.delete(arn);
  }

  addClassic(name: string, instanceIds: readonly string[]): void {
    this.classic.set(name, new Set(instanceIds));
  }

  count(op: string, on?: string): number {
    return this.calls.filter((c) => c.op === op && (on === undefined || c.on === on)).length;
  }

  /** Registered or draining targets of a group right now. */
  live(arn: string): TargetHealth[] {
    return [...this.group(arn).targets.values()].flatMap((t) => this.health(arn, t.id, t.port));
  }

  async listTargetGroups(): Promise<TargetGroupSummary[]> {
    this.record('DescribeTargetGroups', '*', []);
    return [...this.groups.values()].map((g) => g.summary);
  }

  async describeTargetGroup(ref: { readonly arn: string } | { readonly name: string }): Promise<TargetGroupSummary | undefined> {
    this.record('DescribeTargetGroups', 'arn' in ref ? ref.arn : ref.name, []);
    return [...this.groups.values()].map((g) => g.summary).find((g) => ('arn' in ref ? g.arn === ref.arn : g.name === ref.name));
  }

  async describeTargetHealth(arn: string, targets: readonly TargetRef[] | undefined): Promise<TargetHealth[]> {
    this.record('DescribeTargetHealth', arn, (targets ?? []).map((t) => `${t.id}:${t.port}`));
    const group = this.group(arn);
    if (!targets) return [...group.targets.values()].flatMap((t) => this.health(arn, t.id, t.port));
    return targets.map((t) => this.health(arn, t.id, t.port)[0] ?? { ...t, state: 'unused', reason: 'Target.NotRegistered' });
  }

  async deregisterTargets(arn: string, targets: readonly TargetRef[]): Promise<'deregistered' | 'invalid-target'> {
    this.record('DeregisterTargets', arn, targets.map((t) => `${t.id}:${t.port}`));
    const group = this.group(arn);
    this.expire(group);
    if (targets.some((t) => !group.targets.has(`${t.id}:${t.port}`))) return 'invalid-target';
    for (const t of targets) {
      const entry = group.targets.get(`${t.id}:${t.port}`)!;
      if (entry.drainingUntilMs !== undefined) continue;
      if (group.delaySeconds === 0) group.targets.delete(`${t.id}:${t.port}`);
      else entry.drainingUntilMs = Date.now() + group.delaySeconds * 1000;
    }
    return 'deregistered';
  }

  async deregistrationDelaySeconds(arn: string): Promise<number> {
    this.record('DescribeTargetGroupAttributes', arn, []);
    return this.group(arn).delaySeconds;
  }

  async listLoadBalancers(): Promise<ClassicLoadBalancerSummary[]> {
    this.record('DescribeLoadBalancers', '*', []);
    return [...this.classic].map(([name, ids]) => ({ name, instanceIds: [...ids] }));
  }

  async describeInstanceHealth(name: string): Promise<InstanceHealth[]> {
    this.record('DescribeInstanceHealth', name, []);
    return [...this.lb(name)].map((instanceId) => ({ instanceId, state: 'InService' }));
  }

  async deregisterInstances(name: string, instanceIds: readonly string[]): Promise<'deregistered' | 'invalid-instance'> {
    this.record('DeregisterInstancesFromLoadBalancer', name, instanceIds);
    const lb = this.lb(name);
    if (instanceIds.some((id) => !lb.has(id))) return 'invalid-instance';
    for (const id of instanceIds) lb.delete(id);
    return 'deregistered';
  }

  async describeTrafficSources(group: string): Promise<TrafficSources> {
    this.record('DescribeTrafficSources', group, []);
    return this.sources.get(group) ?? { targetGroupArns: [], loadBalancerNames: [] };
  }

  private health(arn: string, id: string, port: number): TargetHealth[] {
    const group = this.group(arn);
    this.expire(group);
    const t = group.targets.get(`${id}:${port}`);
    if (!t) return [];
    return [t.drainingUntilMs === undefined
      ? { id, port, state: 'healthy', reason: undefined }
      : { id, port, state: 'draining', reason: 'Target.DeregistrationInProgress' }];
  }

  private expire(group: FakeGroup): void {
    for (const [key, t] of group.targets) if (t.drainingUntilMs !== undefined && t.drainingUntilMs <= Date.now()) group.targets.delete(key);
  }

  private record(op: string, on: string, items: readonly string[]): void {
    const call = { op, on, items };
    this.calls.push(call);
    this.onCall(call);
    const failure = this.failures.get(op)?.shift();
    if (failure !== undefined) throw failure;
  }

  private group(arn: string): FakeGroup {
    const g = this.groups.get(arn);
    if (!g) throw new ResourceGoneError(`target group ${arn.split('/')[1]}`);
    return g;
  }

  private lb(name: string): Set<string> {
    const lb = this.classic.get(name);
    if (!lb) throw new ResourceGoneError(`classic load balancer ${name}`);
    return lb;
  }
}
