import { sleep } from '../lifecycle/sleep.js';
import type { Logger } from '../observability/logger.js';
import type { CallBudget } from './callBudget.js';
import { MergeWindow } from './mergeWindow.js';
import { type TargetGroupsPort, type TargetHealth, type TargetRef, targetGroupName, targetKey } from './ports.js';
import type { AttributesCache } from './regionIndex.js';
import { SharedLoad } from './sharedLoad.js';

export interface TargetGroupTimings {
  /** How long a DeregisterTargets or DescribeTargetHealth call waits for other events' targets of the same group. */
  readonly batchWindowMs: number;
  /** Poll interval once the deregistration delay has passed and a target is still draining. */
  readonly pollIntervalMs: number;
  /** Added to the deregistration delay before the first poll. */
  readonly firstPollSlackMs: number;
  /** How long a group's deregistration delay, once read, is trusted. */
  readonly attributesTtlMs: number;
  /** Bound on each merged call. */
  readonly callTimeoutMs: number;
}

/** Times a target may be found registered again while we wait (a controller re-adding it) before giving up. */
const MAX_REREGISTRATIONS = 3;
const MAX_TARGETS_PER_CALL = 200;

export const isUnused = (h: TargetHealth): boolean => h.state === 'unused';
export const isDraining = (h: TargetHealth): boolean => h.state === 'draining' || h.state === 'unhealthy.draining';
export const isRegistered = (h: TargetHealth): boolean => !isUnused(h) && !isDraining(h);

/**
 * Target-group work shared by all events: DeregisterTargets and DescribeTargetHealth calls for the same group are
 * merged into one — everything submitted within a short window, and whatever arrives while the call waits for the
 * call budget — each group's deregistration delay is read once (DescribeTargetGroupAttributes) and cached (the
 * index reads it ahead for the groups holding the cluster's instances), and every call goes through the budget.
 */
export class TargetGroupOperations implements AttributesCache {
  private readonly reads: MergeWindow<TargetRef, TargetHealth[]>;
  private readonly deregistrations: MergeWindow<TargetRef, void>;
  private readonly delays: SharedLoad<string, number>;

  constructor(private readonly port: TargetGroupsPort, private readonly budget: CallBudget, private readonly timings: TargetGroupTimings) {
    const window = { windowMs: timings.batchWindowMs, maxItems: MAX_TARGETS_PER_CALL, callTimeoutMs: timings.callTimeoutMs, itemKey: targetKey };
    this.reads = new MergeWindow(window, (arn, targets, signal) => this.describe(arn, targets, signal));
    this.deregistrations = new MergeWindow(window, (arn, targets, signal) => this.deregisterMerged(arn, targets, signal));
    this.delays = new SharedLoad(timings.callTimeoutMs);
  }

  /** Deregisters the targets, merged with other events' targets of the same group. Idempotent. */
  deregister(arn: string, targets: readonly TargetRef[], signal: AbortSignal): Promise<void> {
    return this.deregistrations.submit(arn, targets.map(toRef), signal);
  }

  /**
   * Waits until none of the targets is registered or draining: the first DescribeTargetHealth (filtered to the
   * targets) comes when the group's deregistration delay has passed since `deregisteredAtMs`, then one every poll
   * interval while any target is still draining. A target found registered again is deregistered again.
   */
  async awaitDeregistered(arn: string, targets: readonly TargetRef[], deregisteredAtMs: number, log: Logger, signal: AbortSignal): Promise<void> {
    const delayMs = (await this.deregistrationDelaySeconds(arn, signal)) * 1000;
    let dueMs = deregisteredAtMs + delayMs + this.timings.firstPollSlackMs;
    let pending = targets.map(toRef);
    for (let reregistered = 0; pending.length > 0;) {
      await sleep(dueMs - Date.now(), signal);
      const health = new Map((await this.reads.submit(arn, pending, signal)).map((h) => [targetKey(h), h]));
      const draining = pending.filter((t) => { const h = health.get(targetKey(t)); return h !== undefined && isDraining(h); });
      const registered = pending.filter((t) => { const h = health.get(targetKey(t)); return h !== undefined && isRegistered(h); });
      pending = [...draining, ...registered];
      dueMs = Date.now() + this.timings.pollIntervalMs;
      if (registered.length === 0) continue;
      const which = registered.map(targetKey).join(', ');
      if (++reregistered > MAX_REREGISTRATIONS) {
        throw new Error(`targets ${which} were registered again in target group ${targetGroupName(arn)} ${MAX_REREGISTRATIONS} times while waiting for them to drain`);
      }
      log.warn(`targets ${which} are registered again in target group ${targetGroupName(arn)}; deregistering them again`);
      await this.deregister(arn, registered, signal);
      dueMs = Date.now() + delayMs + this.timings.firstPollSlackMs;
    }
  }

  /** The group's deregistration_delay.timeout_seconds, read once per attributes TTL and shared. */
  deregistrationDelaySeconds(arn: string, signal: AbortSignal): Promise<number> {
    return this.delays.get(arn, Date.now() - this.timings.attributesTtlMs, (s) =>
      this.budget.run('DescribeTargetGroupAttributes', s, () => this.port.deregistrationDelaySeconds(arn, s)), signal);
  }

  /** When the cached attributes of the group expire (the index reads them again ahead); undefined: never read. */
  dueAtMs(arn: string): number | undefined {
    const at = this.delays.startedAtMs(arn);
    return at === undefined ? undefined : at + this.timings.attributesTtlMs;
  }

  read(arn: string, signal: AbortSignal): Promise<number> {
    return this.deregistrationDelaySeconds(arn, signal);
  }

  /** Filtered DescribeTargetHealth; the targets are read when the call is sent, so late joiners of a merged read go too. */
  private describe(arn: string, targets: () => readonly TargetRef[], signal: AbortSignal): Promise<TargetHealth[]> {
    return this.budget.run('DescribeTargetHealth', signal, () => this.port.describeTargetHealth(arn, targets(), signal));
  }

  /**
   * One DeregisterTargets for everything merged. InvalidTarget means some target is not registered any more (it
   * finished draining, or someone else removed it): those are done, the rest are deregistered once more.
   */
  private async deregisterMerged(arn: string, items: () => readonly TargetRef[], signal: AbortSignal): Promise<void> {
    const first = await this.budget.run('DeregisterTargets', signal, () => this.port.deregisterTargets(arn, items(), signal));
    if (first === 'deregistered') return;
    const targets = items();
    const still = (await this.describe(arn, () => targets, signal)).filter(isRegistered).map(toRef);
    if (still.length === 0) return;
    const second = await this.budget.run('DeregisterTargets', signal, () => this.port.deregisterTargets(arn, still, signal));
    if (second === 'invalid-target') {
      throw new Error(`DeregisterTargets answered InvalidTarget for ${still.map(targetKey).join(', ')} in target group ${targetGroupName(arn)}, which reports them registered`);
    }
  }
}

function toRef(t: TargetRef): TargetRef {
  return { id: t.id, port: t.port };
}
