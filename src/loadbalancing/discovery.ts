import { describeError, isAbort } from '../lifecycle/errors.js';
import { untilAborted } from '../lifecycle/sleep.js';
import { type FailureClass, failureClass } from '../lifecycle/step.js';
import type { Logger } from '../observability/logger.js';
import type { CallBudget } from './callBudget.js';
import type { ClassicLoadBalancerOperations } from './classicLoadBalancers.js';
import { type TargetGroupBindingsPort, type TargetHealth, type TrafficSources, type TrafficSourcesPort, targetGroupName } from './ports.js';
import type { GroupRead, RegionIndex } from './regionIndex.js';
import { type CandidateGroup, selectMemberships } from './selection.js';
import { SharedLoad } from './sharedLoad.js';

export const DISCOVERY_MODES = ['targeted', 'scan', 'targeted+scan'] as const;
export type DiscoveryMode = (typeof DISCOVERY_MODES)[number];

/** What identifies an instance's targets: its instance id (instance targets) and its addresses (ip targets). */
export interface TargetIdentity {
  readonly instanceId: string;
  /** The node's private IPs and its pods' IPs. */
  readonly addresses: ReadonlySet<string>;
  /**
   * The instance's VPC, asked for only when an ip target group holds one of its addresses (or the groups holding its
   * id disagree about their VPC): an address is the instance's only in a target group of its VPC (VPCs reuse
   * address ranges: another cluster's pod can have the same IP). undefined means ip targets are never taken.
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
  /** TargetGroupBindings of the cluster; undefined when they are not watched. */
  readonly bindings: TargetGroupBindingsPort | undefined;
  readonly index: RegionIndex;
  readonly targetGroups: boolean;
  readonly classic: ClassicLoadBalancerOperations | undefined;
  readonly budget: CallBudget;
  /** How long an Auto Scaling group's traffic sources, once read, are trusted. */
  readonly trafficSourcesTtlMs: number;
  readonly callTimeoutMs: number;
}

/**
 * Finds the target groups and classic load balancers holding an instance. `targeted` looks at the cluster's own
 * load balancers — those attached to the Auto Scaling group (its traffic sources) and those bound by the
 * cluster's TargetGroupBindings — through the index (no call when it read them since the Node existed).
 * `indexed` takes what the region index knows of every other group (registrations made outside Kubernetes, by
 * hand, classic load balancers) and, while the targeted set has not found the instance, waits for the groups the
 * index has not read since the Node existed — never for a whole scan.
 */
export class TargetDiscovery {
  private readonly sources: SharedLoad<string, TrafficSources>;
  private readonly names: SharedLoad<string, string | undefined>;
  /** Deleted groups the cluster still names, already reported (once is enough: the index remembers them). */
  private readonly reportedGone = new Set<string>();

  constructor(private readonly deps: DiscoveryDeps) {
    this.sources = new SharedLoad(deps.callTimeoutMs);
    this.names = new SharedLoad(deps.callTimeoutMs);
  }

  /**
   * The instance's memberships in the cluster's own load balancers, reported through `found` as each part answers:
   * the bound groups (no AWS call beyond the index) and the Auto Scaling group's attachments. Rejects when the
   * attachments cannot be read; what was found meanwhile was reported already.
   */
  async targeted(identity: TargetIdentity, autoScalingGroupName: string, notBeforeMs: number, log: Logger, signal: AbortSignal, found: (d: Discovered) => void): Promise<void> {
    const parts = await Promise.allSettled([this.bound(identity, notBeforeMs, log, signal, found), this.attached(identity, autoScalingGroupName, notBeforeMs, log, signal, found)]);
    for (const p of parts) if (p.status === 'rejected') throw p.reason;
  }

  /** Groups named by a TargetGroupBinding (by ARN, or by name through the index or one DescribeTargetGroups). */
  private async bound(identity: TargetIdentity, notBeforeMs: number, log: Logger, signal: AbortSignal, found: (d: Discovered) => void): Promise<void> {
    const { bindings, index, targetGroups } = this.deps;
    if (!bindings || !targetGroups) return;
    const arns = new Map<string, Via>();
    for (const b of bindings.current()) {
      if (b.targetType !== undefined && b.targetType !== 'instance' && b.targetType !== 'ip') continue;
      const arn = b.arn ?? (b.name ? await this.resolveName(b.name, signal) : undefined);
      if (!arn) {
        log.debug(`target group ${b.name ?? '?'} of TargetGroupBinding ${b.binding} does not exist; skipping it`);
        continue;
      }
      arns.set(arn, { targetType: b.targetType, vpcHint: b.vpcId, via: `TargetGroupBinding ${b.binding}` });
    }
    if (arns.size === 0) return;
    index.markTargeted(arns.keys());
    const { groups, problems } = await this.readGroups([...arns], notBeforeMs, log, signal);
    await selectInTwo(identity, groups, problems, found);
  }

  /** Groups and classic load balancers attached to the Auto Scaling group (its traffic sources, shared by its events). */
  private async attached(identity: TargetIdentity, autoScalingGroupName: string, notBeforeMs: number, log: Logger, signal: AbortSignal, found: (d: Discovered) => void): Promise<void> {
    const { budget, trafficSources, targetGroups, classic, index } = this.deps;
    if (!targetGroups && !classic) return;
    const sources = await this.sources.get(autoScalingGroupName, Date.now() - this.deps.trafficSourcesTtlMs, (s) =>
      budget.run('DescribeTrafficSources', s, () => trafficSources.describeTrafficSources(autoScalingGroupName, s)), signal);
    const arns = targetGroups ? sources.targetGroupArns : [];
    index.markTargeted(arns);
    const [read, classics] = await Promise.all([
      // Auto Scaling attaches only instance target groups.
      this.readGroups(arns.map((arn) => [arn, { targetType: 'instance', vpcHint: undefined, via: `Auto Scaling group ${autoScalingGroupName}` }]), notBeforeMs, log, signal),
      Promise.all((classic ? sources.loadBalancerNames : []).map(async (name): Promise<Discovered> => {
        try {
          const instances = await classic!.listInstances(name, signal);
          return { memberships: instances.some((i) => i.instanceId === identity.instanceId) ? [{ kind: 'classic-elb', name }] : [], problems: [] };
        } catch (e) {
          if (isAbort(e) && signal.aborted) throw e;
          if ((e as Error).name === 'ResourceGoneError') {
            log.warn(`classic load balancer ${name} attached to the Auto Scaling group no longer exists; skipping it`);
            return { memberships: [], problems: [] };
          }
          return { memberships: [], problems: [{ what: `could not read classic load balancer ${name}: ${describeError(e)}`, failureClass: failureClass(e, false) }] };
        }
      })),
    ]);
    found(merge(classics));
    await selectInTwo(identity, read.groups, read.problems, found);
  }

  /**
   * What the index already knows of every group (registrations made outside Kubernetes; the targeted groups too,
   * which `claimed` de-duplicates) and of classic load balancers, at once; then, unless `wait` aborts first (the
   * targeted set found the instance), the groups it has not read since the Node existed, each reported as it
   * answers. Never a whole scan once the index is built: only the entries this event needs, and those only after
   * `gate` (the targeted set answered or took too long).
   */
  async indexed(identity: TargetIdentity, notBeforeMs: number, log: Logger, wait: AbortSignal, found: (d: Discovered) => void, gate: Promise<unknown> = Promise.resolve()): Promise<void> {
    const { index, targetGroups, classic } = this.deps;
    const ids = [identity.instanceId, ...identity.addresses];
    if (targetGroups) {
      const known = [...index.holding(ids)].flatMap((arn) => { const g = index.current(arn, notBeforeMs); return g ? [g] : []; });
      if (known.length > 0) await selectInTwo(identity, known.map((group) => ({ group, vpcHint: undefined })), [], found);
    }
    const knownClassic = classic ? index.currentClassic(notBeforeMs) : undefined;
    if (knownClassic) found({ memberships: (knownClassic.get(identity.instanceId) ?? []).map((name) => ({ kind: 'classic-elb', name })), problems: [] });
    const pending: Array<Promise<void>> = [];
    const needsReads = (classic && !knownClassic) || (targetGroups && (!index.listedSince(notBeforeMs) || index.unread(notBeforeMs).length > 0));
    // Reads this event would cause wait for the targeted set's answer: once it found the instance they are not made.
    if (needsReads) await untilAborted(gate, wait);
    if (classic && !knownClassic) {
      pending.push(index.classic(notBeforeMs, wait).then((byInstance) => found({ memberships: (byInstance.get(identity.instanceId) ?? []).map((name) => ({ kind: 'classic-elb', name })), problems: [] })));
    }
    if (targetGroups) {
      pending.push((async () => {
        if (!index.listedSince(notBeforeMs)) await index.listed(notBeforeMs, wait);
        const unread = index.unread(notBeforeMs);
        if (unread.length === 0) return;
        log.debug(`waiting for ${unread.length} target groups the load-balancer index has not read since the node was created`);
        const reads = await Promise.all(unread.map(async (arn) => ({ arn, read: await index.group(arn, notBeforeMs, wait) })));
        const holding = reads.flatMap(({ read }) => (read.kind === 'read' && read.group.targets.some((t) => ids.includes(t.id)) ? [{ group: read.group, vpcHint: undefined }] : []));
        const failed = reads.flatMap(({ arn, read }) => (read.kind === 'failed' ? [{ arn, read }] : []));
        const problems: DiscoveryProblem[] = [];
        if (failed.length > 0) {
          // Only a group of the instance's VPC (or of an unknown one) could have held it.
          const vpc = await identity.vpc();
          for (const { arn, read } of failed) {
            const groupVpc = index.summary(arn)?.vpcId;
            if (vpc === undefined || groupVpc === undefined || groupVpc === vpc) problems.push({ what: `could not check target group ${read.name}: ${read.what}`, failureClass: read.failureClass });
          }
        }
        await selectInTwo(identity, holding, problems, found);
      })());
    }
    const settled = await Promise.allSettled(pending);
    for (const s of settled) if (s.status === 'rejected') throw s.reason;
  }

  private async readGroups(arns: ReadonlyArray<readonly [string, Via]>, notBeforeMs: number, log: Logger, signal: AbortSignal): Promise<{ groups: CandidateGroup[]; problems: DiscoveryProblem[] }> {
    const reads = await Promise.all(arns.map(async ([arn, how]) => ({
      arn, how, read: await this.deps.index.group(arn, notBeforeMs, signal, { targetType: how.targetType, vpcId: how.vpcHint }),
    })));
    const problems: DiscoveryProblem[] = [];
    const groups: CandidateGroup[] = [];
    for (const { arn, how, read } of reads) {
      if (read.kind === 'gone') {
        if (!this.reportedGone.has(arn)) log.warn(`target group ${targetGroupName(arn)} named by ${how.via} no longer exists; skipping it`);
        this.reportedGone.add(arn);
      }
      else if (read.kind === 'failed') problems.push(failedProblem(read));
      else groups.push({ group: read.group, vpcHint: how.vpcHint });
    }
    return { groups, problems };
  }

  /** A binding's spec.targetGroupName → its ARN: the index's listing, else one DescribeTargetGroups, shared and cached. */
  private async resolveName(name: string, signal: AbortSignal): Promise<string | undefined> {
    const known = this.deps.index.summaryByName(name);
    if (known) return known.arn;
    return this.names.get(name, Date.now() - this.deps.trafficSourcesTtlMs, (s) => this.deps.index.lookUpByName(name, s), signal);
  }
}

/** How a targeted group was named, and what that says about it. */
interface Via {
  readonly targetType: string | undefined;
  readonly vpcHint: string | undefined;
  readonly via: string;
}

/**
 * Reports the instance groups first (their proof is the instance id: no call), then the ip groups, which wait for
 * the instance's VPC (EC2): a node's instance targets start leaving while its pods' VPC is looked up.
 */
async function selectInTwo(identity: TargetIdentity, groups: readonly CandidateGroup[], problems: DiscoveryProblem[], found: (d: Discovered) => void): Promise<void> {
  const byType = (ip: boolean) => groups.filter((c) => (c.group.summary.targetType === 'ip') === ip);
  found(await selectMemberships(identity, byType(false), problems));
  const ip = byType(true);
  if (ip.length > 0) found(await selectMemberships(identity, ip, []));
}

function failedProblem(read: Extract<GroupRead, { kind: 'failed' }>): DiscoveryProblem {
  return { what: `could not check target group ${read.name}: ${read.what}`, failureClass: read.failureClass };
}

function merge(parts: readonly Discovered[]): Discovered {
  return { memberships: parts.flatMap((p) => p.memberships), problems: parts.flatMap((p) => p.problems) };
}
