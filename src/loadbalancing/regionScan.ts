import { describeError, isAbort, isResourceGone } from '../lifecycle/errors.js';
import { linkedSignal } from '../lifecycle/sleep.js';
import { type FailureClass, failureClass } from '../lifecycle/step.js';
import type { Logger } from '../observability/logger.js';
import type { CallBudget } from './callBudget.js';
import type { ClassicLoadBalancersPort, TargetGroupSummary, TargetGroupsPort, TargetHealth } from './ports.js';
import { SharedLoad } from './sharedLoad.js';

/** Where a target id (instance id or IP address) was found by the scan. */
export interface ScannedTarget {
  readonly group: TargetGroupSummary;
  readonly target: TargetHealth;
}

export interface RegionSnapshot {
  readonly startedAtMs: number;
  readonly targetGroupCount: number;
  readonly classicLoadBalancerCount: number;
  /** Target id → its registrations, across every scanned target group. */
  readonly byTargetId: ReadonlyMap<string, readonly ScannedTarget[]>;
  /** Instance id → the classic load balancers listing it. */
  readonly classicByInstance: ReadonlyMap<string, readonly string[]>;
  /** Target groups whose targets could not be read: the events that might be in them say so. */
  readonly failedGroups: readonly { readonly group: TargetGroupSummary; readonly error: string; readonly failureClass: FailureClass }[];
}

export interface RegionScanDeps {
  readonly targetGroups: TargetGroupsPort | undefined;
  readonly classic: ClassicLoadBalancersPort | undefined;
  readonly budget: CallBudget;
  readonly log: Logger;
  /** DescribeTargetHealth calls in flight at once during a scan. */
  readonly concurrency: number;
  /** Bound on a whole scan. */
  readonly timeoutMs: number;
  /** Bound on one target group's read (its retries included). */
  readonly groupReadTimeoutMs: number;
}

/** Target types whose targets can be an instance or one of its IP addresses (not lambda, not alb). */
const SCANNED_TARGET_TYPES = new Set(['instance', 'ip']);

/**
 * The region-wide view of which target group or classic load balancer holds what, shared by every event in flight:
 * one scan (DescribeTargetGroups + one DescribeTargetHealth per instance/ip target group, DescribeLoadBalancers for
 * classic ones, whose descriptions list their instances) serves every event that accepts a scan started at or after
 * its own `notBeforeMs`. Scanning is bounded by `concurrency` and paced by the call budget.
 */
export class RegionScan {
  private readonly loads: SharedLoad<'region', RegionSnapshot>;
  /** The last read the scan had to retry, for the events still waiting on it. */
  private lastRetried: string | undefined;

  constructor(private readonly deps: RegionScanDeps) {
    this.loads = new SharedLoad(deps.timeoutMs);
  }

  snapshot(notBeforeMs: number, signal: AbortSignal): Promise<RegionSnapshot> {
    return this.loads.get('region', notBeforeMs, (s) => this.scan(s), signal);
  }

  /** What the running scan last had to retry (for an event that could not wait for it to finish). */
  get stallReason(): string | undefined {
    return this.lastRetried;
  }

  private async scan(signal: AbortSignal): Promise<RegionSnapshot> {
    const { log } = this.deps;
    const startedAtMs = Date.now();
    log.info('scanning the region\'s load balancers');
    const [{ groups, failedGroups }, classic] = await Promise.all([this.scanTargetGroups(signal), this.scanClassic(signal)]);
    const byTargetId = new Map<string, ScannedTarget[]>();
    for (const { group, targets } of groups) {
      for (const target of targets) {
        const list = byTargetId.get(target.id) ?? [];
        list.push({ group, target });
        byTargetId.set(target.id, list);
      }
    }
    const classicByInstance = new Map<string, string[]>();
    for (const lb of classic) {
      for (const id of lb.instanceIds) classicByInstance.set(id, [...(classicByInstance.get(id) ?? []), lb.name]);
    }
    log.info(`scanned ${groups.length} target groups and ${classic.length} classic load balancers in ${((Date.now() - startedAtMs) / 1000).toFixed(1)}s${failedGroups.length > 0 ? `; ${failedGroups.length} target groups could not be read` : ''}`);
    return { startedAtMs, targetGroupCount: groups.length, classicLoadBalancerCount: classic.length, byTargetId, classicByInstance, failedGroups };
  }

  /** Every instance and ip target group's targets; a group that cannot be read fails alone (it is listed). */
  private async scanTargetGroups(signal: AbortSignal): Promise<{ groups: Array<{ group: TargetGroupSummary; targets: TargetHealth[] }>; failedGroups: RegionSnapshot['failedGroups'] }> {
    const port = this.deps.targetGroups;
    const failedGroups: Array<RegionSnapshot['failedGroups'][number]> = [];
    if (!port) return { groups: [], failedGroups };
    const { budget, log } = this.deps;
    const all = await budget.run('DescribeTargetGroups', signal, () => port.listTargetGroups(signal),
      (e) => { this.lastRetried = `DescribeTargetGroups failing (${describeError(e)})`; });
    this.lastRetried = undefined;
    const groups = all.filter((g) => SCANNED_TARGET_TYPES.has(g.targetType));
    const scanned = await mapBounded(groups, this.deps.concurrency, async (group) => {
      // One group's reads are bounded on their own: a group that keeps answering 5xx fails alone instead of
      // holding the whole scan (and every event waiting for it) until the scan's own timeout.
      const read = linkedSignal([signal], this.deps.groupReadTimeoutMs);
      let failures = 0;
      let lastError: string | undefined;
      try {
        return [{ group, targets: await budget.run('DescribeTargetHealth', read.signal, () => port.describeTargetHealth(group.arn, undefined, read.signal),
          (e) => {
            failures += 1;
            lastError = describeError(e);
            this.lastRetried = `DescribeTargetHealth of target group ${group.name} failing (${lastError})`;
          }) }];
      } catch (e) {
        if (signal.aborted) throw e;
        if (isAbort(e)) {
          const seen = lastError ? `DescribeTargetHealth failed ${failures} ${failures === 1 ? 'time' : 'times'}, last: ${lastError}` : 'DescribeTargetHealth never answered';
          log.warn(`could not read target group ${group.name} during the scan within ${this.deps.groupReadTimeoutMs / 1000}s (${seen}); the events whose instance might be in it report it`);
          failedGroups.push({ group, error: `no answer within ${this.deps.groupReadTimeoutMs / 1000}s (${seen})`, failureClass: 'timeout' });
        } else if (isResourceGone(e)) {
          log.debug(`target group ${group.name} was deleted during the scan`);
        } else {
          log.warn(`could not read target group ${group.name} during the scan: ${describeError(e)}`, { error: e });
          failedGroups.push({ group, error: describeError(e), failureClass: failureClass(e, false) });
        }
        return [];
      } finally {
        read.dispose();
      }
    });
    return { groups: scanned.flat(), failedGroups };
  }

  private async scanClassic(signal: AbortSignal) {
    const port = this.deps.classic;
    if (!port) return [];
    return this.deps.budget.run('DescribeLoadBalancers', signal, () => port.listLoadBalancers(signal));
  }
}

/** Runs `work` over `items` with at most `concurrency` at once; results in input order; the first error stops it. */
export async function mapBounded<T, R>(items: readonly T[], concurrency: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  let failed = false;
  const worker = async (): Promise<void> => {
    while (next < items.length && !failed) {
      const i = next++;
      try {
        results[i] = await work(items[i]!);
      } catch (e) {
        failed = true;
        throw e;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(Math.max(1, concurrency), items.length) }, worker));
  return results;
}
