import { describeError, isAbort, isResourceGone } from '../lifecycle/errors.js';
import { type FailureClass, failureClass } from '../lifecycle/step.js';
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
  /**
   * The instance's VPC, asked for only when an ip target group holds one of its addresses: an address is the
   * instance's only in a target group of its VPC (VPCs reuse address ranges: another cluster's pod can have the
   * same IP). undefined means ip targets are never taken.
   */
  readonly vpc: () => Promise<string | undefined>;
}

/** Something discovery could not find out; the event reports it and goes on. */
export interface DiscoveryProblem {
  readonly what: string;
  readonly failureClass: FailureClass;
}

export interface Discovered {
  readonly memberships: readonly Membership[];
  readonly problems: readonly DiscoveryProblem[];
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

  /**
   * The load balancers attached to the Auto Scaling group that hold the instance (Auto Scaling only attaches
   * instance target groups, so only the instance id is looked for). A group that cannot be read is a problem of its
   * own; the others are still found.
   */
  async attached(identity: TargetIdentity, autoScalingGroupName: string, log: Logger, signal: AbortSignal): Promise<Discovered> {
    const { budget, trafficSources, targetGroups, classic } = this.deps;
    const sources = await this.sources.get(autoScalingGroupName, Date.now() - this.deps.trafficSourcesTtlMs, (s) =>
      budget.run('DescribeTrafficSources', s, () => trafficSources.describeTrafficSources(autoScalingGroupName, s)), signal);
    const problems: DiscoveryProblem[] = [];
    const found = await Promise.all([
      ...(targetGroups ? sources.targetGroupArns : []).map(async (arn): Promise<Membership[]> => {
        const targets = await skipIfGone(() => targetGroups!.listTargets(arn, signal), `target group ${targetGroupName(arn)}`, log, problems);
        const mine = (targets ?? []).filter((t) => t.id === identity.instanceId);
        return mine.length > 0 ? [{ kind: 'target-group', arn, name: targetGroupName(arn), targets: mine }] : [];
      }),
      ...(classic ? sources.loadBalancerNames : []).map(async (name): Promise<Membership[]> => {
        const instances = await skipIfGone(() => classic!.listInstances(name, signal), `classic load balancer ${name}`, log, problems);
        return instances?.some((i) => i.instanceId === identity.instanceId) ? [{ kind: 'classic-elb', name }] : [];
      }),
    ]);
    return { memberships: found.flat(), problems };
  }

  /**
   * The instance's registrations in the shared region scan: instance targets by id and ip targets by address,
   * only in target groups of the instance's VPC. A target group the scan could not read, in that VPC, is reported.
   */
  async scanned(identity: TargetIdentity, notBeforeMs: number, signal: AbortSignal): Promise<Discovered> {
    const snapshot = await this.deps.scan.snapshot(notBeforeMs, signal).catch((e: unknown) => {
      // The event's time ran out before the shared scan finished: say what the scan is stuck on.
      const reason = this.deps.scan.stallReason;
      if (!isAbort(e) || !reason) throw e;
      throw Object.assign(new Error(`the region scan did not finish in time: ${reason}`, { cause: e }), { name: 'TimeoutError' });
    });
    const problems: DiscoveryProblem[] = [];
    const byAddress = [...identity.addresses].flatMap((ip) => snapshot.byTargetId.get(ip) ?? []).filter((s) => s.group.targetType === 'ip');
    // Only when an address is registered somewhere is the VPC needed (and EC2 asked).
    const vpcId = byAddress.length > 0 || snapshot.failedGroups.length > 0 ? await identity.vpc() : undefined;
    if (byAddress.length > 0 && vpcId === undefined) {
      problems.push({ what: `ip targets with the node's or its pods' addresses were left alone in ${new Set(byAddress.map((s) => s.group.name)).size} target groups: the instance's VPC is unknown, so they cannot be proven this instance's`, failureClass: 'permanent' });
    }
    const inVpc = (groupVpc: string | undefined): boolean => vpcId === undefined || groupVpc === undefined || groupVpc === vpcId;
    const asInstance = (snapshot.byTargetId.get(identity.instanceId) ?? []).filter((s) => s.group.targetType === 'instance' && inVpc(s.group.vpcId));
    const asAddress = vpcId === undefined ? [] : byAddress.filter((s) => s.group.vpcId === vpcId);
    const byGroup = new Map<string, ScannedTarget[]>();
    for (const s of [...asInstance, ...asAddress]) byGroup.set(s.group.arn, [...(byGroup.get(s.group.arn) ?? []), s]);
    const groups: Membership[] = [...byGroup.values()].map((list) => ({
      kind: 'target-group', arn: list[0]!.group.arn, name: list[0]!.group.name, targets: list.map((s) => s.target),
    }));
    const classic: Membership[] = (snapshot.classicByInstance.get(identity.instanceId) ?? []).map((name) => ({ kind: 'classic-elb', name }));
    for (const f of snapshot.failedGroups) {
      if (inVpc(f.group.vpcId)) problems.push({ what: `could not check target group ${f.group.name}: ${f.error}`, failureClass: f.failureClass });
    }
    return { memberships: [...groups, ...classic], problems };
  }
}

async function skipIfGone<T>(read: () => Promise<T>, what: string, log: Logger, problems: DiscoveryProblem[]): Promise<T | undefined> {
  try {
    return await read();
  } catch (e) {
    if (isAbort(e)) throw e;
    if (isResourceGone(e)) {
      log.warn(`${what} attached to the Auto Scaling group no longer exists; skipping it`);
    } else {
      problems.push({ what: `could not read ${what}: ${describeError(e)}`, failureClass: failureClass(e, false) });
    }
    return undefined;
  }
}
