import { mapBounded } from '../enrollment/mapBounded.js';
import { describeError } from '../lifecycle/errors.js';
import { sleep } from '../lifecycle/sleep.js';
import { INDEXED_TARGET_TYPES } from './groupReader.js';
import type { RegionIndex } from './regionIndex.js';
import { TokenBucket } from './tokenBucket.js';

/**
 * Builds the region index once, then keeps it fresh in the background: it re-reads whatever is older than
 * `refreshAfterMs` — the cluster's groups (bindings, Auto Scaling groups) and groups never read first, then the group
 * list, the attributes of the cluster's groups, the classic load balancers, the other groups oldest first — one read
 * at a time at `backgroundRatePerSecond`, so its cost per minute is the same whatever the size of the region.
 */
export class IndexMaintenance {
  private readonly pace: TokenBucket;
  private builtAt: number | undefined;

  constructor(private readonly index: RegionIndex) {
    this.pace = new TokenBucket({ ratePerSecond: index.deps.backgroundRatePerSecond, capacity: 1 });
  }

  /** When the first build finished; undefined before. */
  get builtAtMs(): number | undefined {
    return this.builtAt;
  }

  /** Builds the index, then keeps it fresh in the background until `signal` aborts. */
  async run(signal: AbortSignal): Promise<void> {
    try {
      await this.build(signal);
      for (;;) await this.refreshOne(signal);
    } catch (e) {
      if (!signal.aborted) this.index.deps.log.error(`the load-balancer index stopped: ${describeError(e)}`);
    }
  }

  /** The first build alone: every group, the classic load balancers, the attributes of the cluster's groups. */
  async build(signal: AbortSignal): Promise<void> {
    const { log, concurrency, wholeRegion } = this.index.deps;
    const startedAtMs = Date.now();
    this.index.markTargeted(this.index.deps.boundArns?.() ?? []);
    if (wholeRegion) {
      log.info('building the load-balancer index (every target group\'s targets, the classic load balancers)');
      await this.index.listed(0, signal).catch((e: unknown) => {
        if (signal.aborted) throw e;
        log.warn(`could not list the region's target groups: ${describeError(e)}; they are listed again later`);
      });
    }
    const arns = this.index.unread(0);
    let failed = 0;
    await mapBounded(arns, concurrency, async (arn) => {
      if ((await this.index.group(arn, 0, signal)).kind === 'failed') failed++;
    });
    await mapBounded(this.attributesDue(Number.POSITIVE_INFINITY), concurrency, (arn) => this.readAttributes(arn, signal));
    if (wholeRegion) {
      await this.index.classic(0, signal).catch((e: unknown) => {
        if (signal.aborted) throw e;
        log.warn(`could not list the classic load balancers: ${describeError(e)}; they are listed again later`);
      });
    }
    this.builtAt = Date.now();
    const held = [...this.index.entries()].filter((e) => (e.good?.targets.length ?? 0) > 0).length;
    log.info(`load-balancer index built: ${arns.length} target groups (${held} holding targets)${wholeRegion ? `, ${this.index.currentClassic(0)?.size ?? 0} instances in classic load balancers` : ''} in ${((this.builtAt - startedAtMs) / 1000).toFixed(1)}s${failed > 0 ? `; ${failed} could not be read` : ''}`);
  }

  /** Waits for the most urgent due read, then makes it within the background rate. */
  private async refreshOne(signal: AbortSignal): Promise<void> {
    const job = this.nextJob();
    const waitMs = job ? job.dueAtMs - Date.now() : this.index.deps.refreshAfterMs;
    if (waitMs > 0) {
      // Re-evaluated at least every few seconds: groups named by a new binding are due at once.
      await sleep(Math.min(waitMs, 5_000), signal);
      return;
    }
    await this.pace.take(signal);
    await job!.run(signal).catch((e: unknown) => {
      if (signal.aborted) throw e;
      this.index.deps.log.debug(`background refresh of the load-balancer index: ${describeError(e)}`);
    });
  }

  /** The due read with the highest priority: the cluster's groups, the group list, attributes, classic, the rest. */
  private nextJob(): { dueAtMs: number; run: (signal: AbortSignal) => Promise<unknown> } | undefined {
    const { refreshAfterMs, wholeRegion } = this.index.deps;
    this.index.markTargeted(this.index.deps.boundArns?.() ?? []);
    const candidates: Array<{ rank: number; dueAtMs: number; run: (signal: AbortSignal) => Promise<unknown> }> = [];
    for (const e of this.index.entries()) {
      if (e.summary && !INDEXED_TARGET_TYPES.has(e.summary.targetType)) continue;
      if (!wholeRegion && !e.targeted) continue;
      // A deleted group is looked at again only if the cluster names it (a binding may outlive its group).
      if (!e.summary && e.lastSentAtMs !== undefined && !e.targeted) continue;
      // A group whose last read failed is due again a refresh period after the failure, not at once.
      const readAt = Math.max(e.lastSentAtMs ?? Number.NEGATIVE_INFINITY, e.failedAtMs ?? Number.NEGATIVE_INFINITY);
      candidates.push({ rank: e.targeted || e.lastSentAtMs === undefined ? 0 : 4, dueAtMs: readAt + refreshAfterMs, run: (s) => this.index.group(e.arn, Date.now(), s) });
    }
    if (wholeRegion && this.index.deps.targetGroups) candidates.push({ rank: 1, dueAtMs: (this.index.listSentAtMs ?? Number.NEGATIVE_INFINITY) + refreshAfterMs, run: (s) => this.index.listed(Date.now(), s) });
    for (const arn of this.attributesDue(Date.now() + refreshAfterMs)) {
      candidates.push({ rank: 2, dueAtMs: this.index.deps.attributes?.dueAtMs(arn) ?? Number.NEGATIVE_INFINITY, run: (s) => this.readAttributes(arn, s) });
    }
    if (wholeRegion && this.index.deps.classic) candidates.push({ rank: 3, dueAtMs: (this.index.classicSentAtMs ?? Number.NEGATIVE_INFINITY) + refreshAfterMs, run: (s) => this.index.classic(Date.now(), s) });
    const now = Date.now();
    const due = candidates.filter((c) => c.dueAtMs <= now).sort((a, b) => a.rank - b.rank || a.dueAtMs - b.dueAtMs);
    return due[0] ?? candidates.sort((a, b) => a.dueAtMs - b.dueAtMs)[0];
  }

  /** Groups whose attributes are due by `byMs`: the cluster's groups and the groups holding one of its instances. */
  private attributesDue(byMs: number): string[] {
    const cache = this.index.deps.attributes;
    if (!cache) return [];
    return [...this.index.entries()].filter((e) => {
      if (!e.good || !INDEXED_TARGET_TYPES.has(e.good.summary.targetType)) return false;
      if (!e.targeted && !e.good.targets.some((t) => this.index.deps.isClusterTarget(t.id))) return false;
      const due = cache.dueAtMs(e.arn);
      return due === undefined || due <= byMs;
    }).map((e) => e.arn);
  }

  private async readAttributes(arn: string, signal: AbortSignal): Promise<void> {
    await this.index.deps.attributes?.read(arn, signal).catch((e: unknown) => {
      if (signal.aborted) throw e;
      this.index.deps.log.debug(`could not read the attributes of target group ${this.index.summary(arn)?.name ?? arn}: ${describeError(e)}`);
    });
  }
}
