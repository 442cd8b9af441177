import { describeError, isAbort, isResourceGone } from '../lifecycle/errors.js';
import type { Logger } from '../observability/logger.js';
import type { CallBudget } from './callBudget.js';
import type { ClassicLoadBalancerOperations } from './classicLoadBalancers.js';
import type { TargetHealth, TrafficSources, TrafficSourcesPort } from './ports.js';
import { targetGroupName } from './ports.js';
import type { RegionScan, ScannedTarget } from './regionScan.js';
import { SharedLoad } from './sharedLoad.js';
import type { TargetGroupOperations } from './targetGroups.js';

export const DISCOVERY_MODES = ['targeted', 'scan', 'targeted+scan'] as const;
export type DiscoveryMode = (typeof DISCOVERY_MODES)[number];

/** What identifies an instance's targets: its instance id (instance targets) and its addresses (ip targets). */
export interface TargetIdentity {
  readonly instanceId: string;
  /** The node's private IPs and its pods' IPs. */
  readonly addresses: ReadonlySet<string>;
}

export interface TargetGroupMembership {
  readonly kind: 'target-group';
  readonly arn: string;
  readonly name: string;
  /** The instance's registrations in the group (every port; ip targets too), as discovered. */
  readonly targets: readonly TargetHealth[];
}

export interface ClassicMembership {
  readonly kind: 'classic-elb';
  readonly name: string;
}

export type Membership = TargetGroupMembership | ClassicMembership;

export interface DiscoveryDeps {
  readonly trafficSources: TrafficSourcesPort;
  readonly targetGroups: TargetGroupOperations | undefined;
  readonly classic: ClassicLoadBalancerOperations | undefined;
  readonly scan: RegionScan;
  readonly budget: CallBudget;
  /** How long an Auto Scaling group's traffic sources, once read, are trusted. */
  readonly trafficSourcesTtlMs: number;
  readonly callTimeoutMs: number;
}

/**
 * Finds the target groups and classic load balancers holding an instance. `attached` asks the Auto Scaling group
 * (its traffic sources, shared by all its events) and then those load balancers (merged reads); `scanned` looks the
 * instance up in the shared region scan, which also sees registrations made outside the group (AWS Load Balancer
 * Controller, by hand), ip targets included.
 */
export class TargetDiscovery {
  private readonly sources: SharedLoad<string, TrafficSources>;

  constructor(private readonly deps: DiscoveryDeps) {
    this.sources = new SharedLoad(deps.callTimeoutMs);
  }

  async attached(identity: TargetIdentity, autoScalingGroupName: string, log: Logger, signal: AbortSignal): Promise<Membership[]> {
    const { budget, trafficSources, targetGroups, classic } = this.deps;
    const sources = await this.sources.get(autoScalingGroupName, Date.now() - this.deps.trafficSourcesTtlMs, (s) =>
      budget.run('DescribeTrafficSources', s, () => trafficSources.describeTrafficSources(autoScalingGroupName, s)), signal);
    const found = await Promise.all([
      ...(targetGroups ? sources.targetGroupArns : []).map(async (arn): Promise<Membership[]> => {
        const targets = await skipIfGone(() => targetGroups!.listTargets(arn, signal), `target group ${targetGroupName(arn)}`, log);
        const mine = (targets ?? []).filter((t) => holds(identity, t.id));
        return mine.length > 0 ? [{ kind: 'target-group', arn, name: targetGroupName(arn), targets: mine }] : [];
      }),
      ...(classic ? sources.loadBalancerNames : []).map(async (name): Promise<Membership[]> => {
        const instances = await skipIfGone(() => classic!.listInstances(name, signal), `classic load balancer ${name}`, log);
        return instances?.some((i) => i.instanceId === identity.instanceId) ? [{ kind: 'classic-elb', name }] : [];
      }),
    ]);
    return found.flat();
  }

  async scanned(identity: TargetIdentity, notBeforeMs: number, signal: AbortSignal): Promise<Membership[]> {
    const snapshot = await this.deps.scan.snapshot(notBeforeMs, signal);
    const asInstance = snapshot.byTargetId.get(identity.instanceId) ?? [];
    // Addresses repeat across VPCs with overlapping ranges: when the instance itself is a target somewhere, only ip
    // targets in that VPC are taken to be its own.
    const vpcs = new Set(asInstance.map((s) => s.group.vpcId).filter((v): v is string => v !== undefined));
    const asAddress = [...identity.addresses].flatMap((ip) => snapshot.byTargetId.get(ip) ?? [])
      .filter((s) => s.group.targetType === 'ip' && (vpcs.size === 0 || s.group.vpcId === undefined || vpcs.has(s.group.vpcId)));
    const byGroup = new Map<string, ScannedTarget[]>();
    for (const s of [...asInstance.filter((x) => x.group.targetType === 'instance'), ...asAddress]) {
      byGroup.set(s.group.arn, [...(byGroup.get(s.group.arn) ?? []), s]);
    }
    const groups: Membership[] = [...byGroup.values()].map((list) => ({
      kind: 'target-group', arn: list[0]!.group.arn, name: list[0]!.group.name, targets: list.map((s) => s.target),
    }));
    const classic: Membership[] = (snapshot.classicByInstance.get(identity.instanceId) ?? []).map((name) => ({ kind: 'classic-elb', name }));
    return [...groups, ...classic];
  }
}

function holds(identity: TargetIdentity, targetId: string): boolean {
  return targetId === identity.instanceId || identity.addresses.has(targetId);
}

async function skipIfGone<T>(read: () => Promise<T>, what: string, log: Logger): Promise<T | undefined> {
  try {
    return await read();
  } catch (e) {
    if (isAbort(e)) throw e;
    if (!isResourceGone(e)) throw new Error(`reading ${what}: ${describeError(e)}`, { cause: e });
    log.warn(`${what} attached to the Auto Scaling group no longer exists; skipping it`);
    return undefined;
  }
}
