import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { FakeLoadBalancers } from '../../test/unit/fakeLoadBalancers.js';
import { TransientError } from '../lifecycle/errors.js';
import type { Logger } from '../observability/logger.js';
import { CallBudget } from './callBudget.js';
import { IndexMaintenance } from './indexMaintenance.js';
import { RegionIndex } from './regionIndex.js';

const live = (): AbortSignal => new AbortController().signal;

function recordingLog(lines: string[]): Logger {
  const log: Logger = { debug: (m) => lines.push(`debug ${m}`), info: (m) => lines.push(`info ${m}`), warn: (m) => lines.push(`warn ${m}`), error: (m) => lines.push(`error ${m}`), child: () => log };
  return log;
}

function index(elb: FakeLoadBalancers, lines: string[] = [], options: { backgroundRatePerSecond?: number } = {}) {
  const log = recordingLog(lines);
  const budget = new CallBudget({ ratePerSecond: 100, burst: 100, maxConcurrent: 10, backoff: { minMs: 1_000, maxMs: 1_000 }, log });
  return new RegionIndex({
    targetGroups: elb, classic: elb, budget, log, wholeRegion: true, refreshAfterMs: 60_000,
    backgroundRatePerSecond: options.backgroundRatePerSecond ?? 0.1, groupReadTimeoutMs: 15_000, listTimeoutMs: 60_000, concurrency: 10,
    isClusterTarget: () => false, attributes: undefined,
  });
}

/** Reads made by a running index over `minutes` after its build, for a region of `groups` target groups. */
async function backgroundReads(groups: number, minutes: number): Promise<{ build: number; background: number; byOp: Record<string, number> }> {
  const elb = new FakeLoadBalancers();
  for (let g = 0; g < groups; g++) elb.register(elb.addTargetGroup(`tg-${g}`), `i-${g}`, 80);
  const idx = new IndexMaintenance(index(elb));
  const stop = new AbortController();
  const running = idx.run(stop.signal);
  while (idx.builtAtMs === undefined) await vi.advanceTimersByTimeAsync(100);
  const build = elb.calls.length;
  await vi.advanceTimersByTimeAsync(minutes * 60_000);
  stop.abort();
  await running;
  const byOp: Record<string, number> = {};
  for (const c of elb.calls.slice(build)) byOp[c.op] = (byOp[c.op] ?? 0) + 1;
  return { build, background: elb.calls.length - build, byOp };
}

describe('RegionIndex and its maintenance', () => {
  beforeEach(() => vi.useFakeTimers({ now: 0 }));
  afterEach(() => vi.useRealTimers());

  it('costs the same reads per minute in the background whatever the size of the region, after one read of every group', async () => {
    const small = await backgroundReads(100, 10);
    const large = await backgroundReads(1_000, 10);
    expect(small.build).toBe(100 + 2); // every group once, the group list, the classic list
    expect(large.build).toBe(1_000 + 2);
    // Nothing is due in the first minute; then 0.1 read per second: 54 in the other nine, for 100 groups as for 1,000.
    expect(small.background).toBeGreaterThanOrEqual(53);
    expect(small.background).toBeLessThanOrEqual(56);
    expect(large.background).toBe(small.background);
    expect(large.byOp).toEqual(small.byOp);
  });

  it('fails a group that keeps failing alone: the others are indexed, the failure is kept with its cause, and a later read tries again', async () => {
    const elb = new FakeLoadBalancers();
    const flaky = elb.addTargetGroup('flaky');
    const fine = elb.addTargetGroup('fine');
    elb.register(fine, 'i-1', 80);
    elb.register(flaky, 'i-1', 80);
    let failing = true;
    elb.onCall = (c) => {
      if (failing && c.op === 'DescribeTargetHealth' && c.on === flaky) elb.failures.set('DescribeTargetHealth', [new TransientError('ServiceUnavailable', false)]);
    };
    const lines: string[] = [];
    const idx = index(elb, lines);
    const built = new IndexMaintenance(idx).build(live());
    await vi.advanceTimersByTimeAsync(20_000);
    await built;

    expect(idx.current(fine, 0)?.targets.map((t) => t.id)).toEqual(['i-1']);
    expect(idx.current(flaky, 0)).toBeUndefined();
    expect(idx.failure(flaky)).toEqual({ what: expect.stringMatching(/^no answer within 15s \(DescribeTargetHealth failed \d+ times, last: ServiceUnavailable\)$/u), failureClass: 'timeout', atMs: expect.any(Number) });
    expect(lines.filter((l) => l.startsWith('warn could not read target group'))).toEqual([expect.stringContaining('could not read target group flaky within 15s')]);
    expect([...idx.holding(['i-1'])]).toEqual([fine]);

    failing = false;
    const again = await idx.group(flaky, 0, live());
    expect(again.kind).toBe('read');
    expect(idx.failure(flaky)).toBeUndefined();
    expect([...idx.holding(['i-1'])].sort()).toEqual([fine, flaky].sort());
  });

  it('keeps the last good read of a group whose later read fails', async () => {
    const elb = new FakeLoadBalancers();
    const g = elb.addTargetGroup('web');
    elb.register(g, 'i-1', 80);
    const idx = index(elb);
    expect((await idx.group(g, 0, live())).kind).toBe('read');
    elb.failures.set('DescribeTargetHealth', [new Error('ValidationError: injected')]);
    vi.setSystemTime(10_000);
    expect(await idx.group(g, 5_000, live())).toMatchObject({ kind: 'failed', name: 'web', failureClass: 'permanent' });
    expect(idx.current(g, 0)?.targets.map((t) => t.id)).toEqual(['i-1']);
  });

  it('forgets a group deleted while it is being read after its own lookup: one DescribeTargetHealth, no retry, no failure', async () => {
    const elb = new FakeLoadBalancers();
    const doomed = elb.addTargetGroup('doomed');
    const kept = elb.addTargetGroup('kept');
    elb.register(kept, 'i-1', 80);
    // Deleted after the listing saw it, as its own read arrives.
    elb.onCall = (c) => { if (c.op === 'DescribeTargetHealth' && c.on === doomed) elb.deleteTargetGroup(doomed); };
    const lines: string[] = [];
    const idx = index(elb, lines);
    const built = new IndexMaintenance(idx).build(live());
    await vi.advanceTimersByTimeAsync(1_000);
    await built;
    expect(elb.count('DescribeTargetHealth', doomed)).toBe(1);
    expect(idx.failure(doomed)).toBeUndefined();
    expect(idx.unread(0)).toEqual([]);
    expect(idx.current(kept, 0)?.targets.map((t) => t.id)).toEqual(['i-1']);
    expect(lines.filter((l) => l.startsWith('warn'))).toEqual([]);
  });

  it('shares one read of a group among every caller that accepts it, a read waiting for its turn included', async () => {
    const elb = new FakeLoadBalancers();
    const g = elb.addTargetGroup('web');
    const idx = index(elb);
    const reads = await Promise.all([idx.group(g, 0, live()), idx.group(g, 0, live()), idx.group(g, Date.now(), live())]);
    expect(reads.map((r) => r.kind)).toEqual(['read', 'read', 'read']);
    expect(elb.count('DescribeTargetHealth')).toBe(1);
  });

  it('refreshes the cluster\'s groups (bindings, Auto Scaling groups) before the others', async () => {
    const elb = new FakeLoadBalancers();
    const groups = Array.from({ length: 30 }, (_, g) => elb.addTargetGroup(`tg-${g}`));
    const idx = index(elb);
    const maintenance = new IndexMaintenance(idx);
    const stop = new AbortController();
    const running = maintenance.run(stop.signal);
    while (maintenance.builtAtMs === undefined) await vi.advanceTimersByTimeAsync(100);
    idx.markTargeted([groups[29]!]);
    const built = elb.calls.length;
    await vi.advanceTimersByTimeAsync(70_000);
    stop.abort();
    await running;
    const firstRefresh = elb.calls.slice(built).find((c) => c.op === 'DescribeTargetHealth');
    expect(firstRefresh?.on).toBe(groups[29]);
  });
});
