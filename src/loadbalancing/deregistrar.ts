import { describeError, isAbort, isResourceGone } from '../lifecycle/errors.js';
import type { DeregistrationReport, DeregistrationRequest, EventRecorder, LoadBalancerDeregistrar, NodeEvent } from '../lifecycle/ports.js';
import { linkedSignal, sleep } from '../lifecycle/sleep.js';
import { type FailureClass, failureClass } from '../lifecycle/step.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { NodeEvents, combineEvents } from '../observability/nodeEvents.js';
import type { ClassicLoadBalancerOperations } from './classicLoadBalancers.js';
import type { ClassicMembership, Discovered, DiscoveryMode, DiscoveryProblem, Membership, TargetDiscovery, TargetGroupMembership, TargetIdentity } from './discovery.js';
import { targetKey } from './ports.js';
import { type TargetGroupOperations, isRegistered } from './targetGroups.js';

export interface TargetDeregistrarDeps {
  readonly discovery: TargetDiscovery;
  readonly targetGroups: TargetGroupOperations | undefined;
  readonly classic: ClassicLoadBalancerOperations | undefined;
  readonly events: EventRecorder;
  readonly metrics: Metrics;
  readonly mode: DiscoveryMode;
}

/** How long the index waits for the targeted set's answer before reading the entries an event lacks. */
const TARGETED_GRACE_MS = 2_000;

type Outcome =
  | { readonly kind: Membership['kind']; readonly status: 'gone' }
  /** `event`: its success Event, published with the others of its reason once every load balancer is done. */
  | { readonly kind: Membership['kind']; readonly status: 'done'; readonly event: NodeEvent }
  | { readonly kind: Membership['kind']; readonly status: 'failed'; readonly what: string; readonly failureClass: FailureClass };

/**
 * Takes one instance (and its pods' IPs) out of every load balancer: discovers where it is registered (the cluster's
 * own load balancers — the Auto Scaling group's attachments and the TargetGroupBindings — and/or the region index,
 * per --lb-discovery), deregisters each target group's
 * targets and each classic load balancer's instance (calls merged with other events'), and waits until they are
 * gone or the signal aborts (the step's share of the deadline is spent). Each load balancer succeeds or fails on
 * its own; one deleted meanwhile is skipped with a warning. Never throws: what did not finish is in the report.
 */
export class TargetDeregistrar implements LoadBalancerDeregistrar {
  constructor(private readonly deps: TargetDeregistrarDeps) {}

  async deregister(request: DeregistrationRequest, signal: AbortSignal): Promise<DeregistrationReport> {
    const { discovery, mode } = this.deps;
    const { log } = request;
    const identity: TargetIdentity = {
      instanceId: request.instanceId,
      addresses: new Set([...(request.node?.privateIps ?? []), ...request.podIps].filter((ip) => ip !== '')),
      vpc: request.instanceVpc,
    };
    const claimed = new Set<string>();
    const work: Array<Promise<Outcome>> = [];
    const problems: DiscoveryProblem[] = [];
    const wouldLeave: string[] = [];
    const take = (found: Discovered): void => {
      problems.push(...found.problems);
      for (const m of found.memberships) {
        const membership = this.unclaimed(m, claimed);
        if (!membership) continue;
        // --dry-run: found and named, never left.
        if (request.dryRun) wouldLeave.push(m.kind === 'target-group' ? `target group ${m.name} (${describeTargets(membership as TargetGroupMembership)})` : `classic load balancer ${m.name}`);
        else work.push(this.handle(membership, request, signal));
      }
    };
    // Entries read before the Node existed cannot have seen its targets.
    const notBeforeMs = request.node?.creationTimestamp?.getTime() ?? 0;
    const startedAtMs = Date.now();
    // Once the cluster's own load balancers (bindings, the Auto Scaling group) have found the instance, it no
    // longer waits for index entries it lacks: those are read in the background all the same.
    const answered = new AbortController();
    const wait = linkedSignal([signal, answered.signal]);
    const searches: Array<Promise<void>> = [];
    let gate: Promise<unknown> = Promise.resolve();
    if (mode !== 'scan') {
      const targeted = discovery.targeted(identity, request.autoScalingGroupName, notBeforeMs, log, signal, (found) => {
        if (found.memberships.length > 0) answered.abort(new Error('the targeted set answered'));
        take(found);
      });
      searches.push(targeted);
      // An Auto Scaling group that does not answer must not keep the index from reading what it lacks.
      gate = Promise.race([targeted.catch(() => undefined), sleep(TARGETED_GRACE_MS, wait.signal).catch(() => undefined)]);
    }
    if (mode !== 'targeted') {
      searches.push(discovery.indexed(identity, notBeforeMs, log, wait.signal, take, gate).catch((e: unknown) => {
        if (answered.signal.aborted && !signal.aborted && isAbort(e)) return;
        throw e;
      }));
    }
    const searched = await Promise.allSettled(searches);
    wait.dispose();
    const found = work.length;
    log.info(`found ${found} load balancers holding the instance in ${((Date.now() - startedAtMs) / 1000).toFixed(3)}s`);
    // Work started by one search finishes even when the other failed; `work` is complete once both settled.
    const outcomes = await Promise.all(work);
    for (const s of searched) {
      if (s.status === 'rejected') problems.push({ what: `finding load balancers: ${describeError(s.reason)}`, failureClass: failureClass(s.reason, signal.aborted) });
    }
    for (const o of outcomes) if (o.status === 'failed') problems.push({ what: o.what, failureClass: o.failureClass });
    this.publishSuccesses(request, outcomes);
    const done = (kind: Membership['kind']): number => outcomes.filter((o) => o.status === 'done' && o.kind === kind).length;
    if (request.dryRun) {
      log.info(`dry run: would deregister from ${wouldLeave.length > 0 ? wouldLeave.join(', ') : 'no load balancer'}`);
      return { targetGroups: 0, classicLoadBalancers: 0, problems, timedOut: signal.aborted, found: wouldLeave.sort() };
    }
    const report = { targetGroups: done('target-group'), classicLoadBalancers: done('classic-elb'), problems, timedOut: signal.aborted };
    log.info(`deregistered from ${report.targetGroups} target groups and ${report.classicLoadBalancers} classic load balancers${problems.length > 0 ? `; ${problems.length} did not finish` : ''}`);
    return report;
  }

  /** The part of a membership no other search of this event has taken yet; undefined when nothing is left. */
  private unclaimed(m: Membership, claimed: Set<string>): Membership | undefined {
    if (m.kind === 'classic-elb') {
      const key = `elb/${m.name}`;
      if (claimed.has(key)) return undefined;
      claimed.add(key);
      return m;
    }
    const targets = m.targets.filter((t) => !claimed.has(`${m.arn}/${targetKey(t)}`));
    for (const t of targets) claimed.add(`${m.arn}/${targetKey(t)}`);
    return targets.length > 0 ? { ...m, targets } : undefined;
  }

  private async handle(m: Membership, request: DeregistrationRequest, signal: AbortSignal): Promise<Outcome> {
    const what = m.kind === 'target-group' ? `target group ${m.name}` : `classic load balancer ${m.name}`;
    const startedAtMs = Date.now();
    try {
      if (m.kind === 'target-group') await this.leaveTargetGroup(m, request.awaitDrained, request.log, signal);
      else await this.leaveClassic(m, request.instanceId, request.awaitDrained, request.log, signal);
    } catch (e) {
      if (isResourceGone(e)) {
        request.log.warn(`${what} no longer exists; skipping it`);
        return { kind: m.kind, status: 'gone' };
      }
      const timedOut = isAbort(e) || signal.aborted;
      const cause = timedOut ? `still ${startedAtMs + 1000 < Date.now() ? 'draining' : 'deregistering'} after ${((Date.now() - startedAtMs) / 1000).toFixed(0)}s, when the time for load balancers ran out` : describeError(e);
      request.log.error(`failed to deregister from ${what}: ${cause}`);
      this.deps.metrics.failedLbDeregisters.inc();
      this.publish(request, m.kind === 'target-group'
        ? NodeEvents.targetDeregisterFailed(describeTargets(m), m.name, cause)
        : NodeEvents.instanceDeregisterFailed(request.instanceId, m.name, cause));
      return { kind: m.kind, status: 'failed', what: `${what}: ${cause}`, failureClass: failureClass(e, timedOut) };
    }
    const seconds = (Date.now() - startedAtMs) / 1000;
    this.deps.metrics.lbDeregistrationWait.observe({ type: m.kind }, seconds);
    this.deps.metrics.successfulLbDeregisters.inc();
    request.log.info(`deregistered ${m.kind === 'target-group' ? describeTargets(m) : request.instanceId} from ${what} after ${seconds.toFixed(1)}s`);
    const event = m.kind === 'target-group'
      ? NodeEvents.targetDeregisterSucceeded(describeTargets(m), m.name)
      : NodeEvents.instanceDeregisterSucceeded(request.instanceId, m.name);
    return { kind: m.kind, status: 'done', event };
  }

  /**
   * One Event per reason for every load balancer left (TargetDeregisterSucceeded, InstanceDeregisterSucceeded), with
   * a count, once all are done: a node in ten target groups costs one Event creation, not ten. Failures are
   * published as they happen, one each: each has its own cause.
   */
  private publishSuccesses(request: DeregistrationRequest, outcomes: readonly Outcome[]): void {
    const byReason = new Map<string, NodeEvent[]>();
    for (const o of outcomes) if (o.status === 'done') byReason.set(o.event.reason, [...(byReason.get(o.event.reason) ?? []), o.event]);
    for (const events of byReason.values()) this.publish(request, combineEvents(events.sort((a, b) => a.message.localeCompare(b.message))));
  }

  private async leaveTargetGroup(m: TargetGroupMembership, awaitDrained: boolean, log: Logger, signal: AbortSignal): Promise<void> {
    const targetGroups = this.deps.targetGroups!;
    const toDeregister = m.targets.filter(isRegistered);
    const deregisteredAtMs = Date.now();
    if (toDeregister.length > 0) {
      log.info(`deregistering ${toDeregister.map(targetKey).join(', ')} from target group ${m.name}`);
      await targetGroups.deregister(m.arn, toDeregister, signal);
    }
    if (toDeregister.length < m.targets.length) {
      log.info(`${m.targets.filter((t) => !isRegistered(t)).map(targetKey).join(', ')} already leaving target group ${m.name}; waiting`);
    }
    if (awaitDrained) await targetGroups.awaitDeregistered(m.arn, m.targets, deregisteredAtMs, log, signal);
  }

  private async leaveClassic(m: ClassicMembership, instanceId: string, awaitDrained: boolean, log: Logger, signal: AbortSignal): Promise<void> {
    const classic = this.deps.classic!;
    log.info(`deregistering ${instanceId} from classic load balancer ${m.name}`);
    await classic.deregister(m.name, instanceId, signal);
    if (awaitDrained) await classic.awaitDeregistered(m.name, instanceId, signal);
  }

  private publish(request: DeregistrationRequest, event: NodeEvent): void {
    if (request.node) this.deps.events.publish(request.node, event);
  }
}

function describeTargets(m: TargetGroupMembership): string {
  return m.targets.map(targetKey).sort().join(',');
}
