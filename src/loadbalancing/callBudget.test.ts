import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { AccessDeniedError, TransientError } from '../lifecycle/errors.js';
import { CallBudget } from './callBudget.js';

const live = (): AbortSignal => new AbortController().signal;
const config = { ratePerSecond: 10, burst: 10, maxConcurrent: 3, backoff: { minMs: 1_000, maxMs: 1_000 } };

describe('CallBudget', () => {
  beforeEach(() => vi.useFakeTimers({ now: 0 }));
  afterEach(() => vi.useRealTimers());

  it('keeps at most maxConcurrent calls in flight, across operations', async () => {
    const budget = new CallBudget(config);
    let inFlight = 0;
    let peak = 0;
    const call = async (): Promise<void> => {
      peak = Math.max(peak, ++inFlight);
      await new Promise((r) => setTimeout(r, 50));
      inFlight--;
    };
    const all = Array.from({ length: 12 }, (_, i) => budget.run(i % 2 ? 'DescribeTargetHealth' : 'DeregisterTargets', live(), call));
    await vi.runAllTimersAsync();
    await Promise.all(all);
    expect(peak).toBe(3);
  });

  it('paces each operation by its own bucket: a busy operation does not slow another down', async () => {
    const budget = new CallBudget({ ...config, ratePerSecond: 2, burst: 1, maxConcurrent: 100 });
    const started: Record<string, number[]> = { scan: [], deregister: [] };
    const runs = [
      ...Array.from({ length: 3 }, () => budget.run('DescribeTargetHealth', live(), async () => { started['scan']!.push(Date.now()); })),
      budget.run('DeregisterTargets', live(), async () => { started['deregister']!.push(Date.now()); }),
    ];
    await vi.runAllTimersAsync();
    await Promise.all(runs);
    expect(started).toEqual({ scan: [0, 500, 1000], deregister: [0] });
  });

  it('retries a throttled call after a backoff and holds back the other callers of that operation meanwhile', async () => {
    const budget = new CallBudget(config);
    const attempts: number[] = [];
    let throttles = 1;
    const first = budget.run('DescribeTargetHealth', live(), async () => {
      attempts.push(Date.now());
      if (throttles-- > 0) throw new TransientError('Throttling: Rate exceeded', true);
      return 'ok';
    });
    await vi.advanceTimersByTimeAsync(1);
    const othersStartedAt: number[] = [];
    const other = budget.run('DescribeTargetHealth', live(), async () => { othersStartedAt.push(Date.now()); });
    await vi.runAllTimersAsync();
    expect(await first).toBe('ok');
    await other;
    // The pause lasts the backoff (1 s); the bucket then refills from empty at 10/s, first come first served.
    expect(othersStartedAt).toEqual([1100]);
    expect(attempts).toEqual([0, 1200]);
  });

  it('does not retry what retrying cannot fix', async () => {
    const budget = new CallBudget(config);
    let calls = 0;
    const run = budget.run('DeregisterTargets', live(), async () => {
      calls++;
      throw new AccessDeniedError('elasticloadbalancing:DeregisterTargets', 'not authorized');
    });
    await expect(run).rejects.toBeInstanceOf(AccessDeniedError);
    expect(calls).toBe(1);
  });

  it('stops retrying when the caller\'s signal aborts', async () => {
    const budget = new CallBudget(config);
    const controller = new AbortController();
    let calls = 0;
    const run = budget.run('DescribeTargetHealth', controller.signal, async () => {
      calls++;
      throw new TransientError('InternalFailure', false);
    });
    const settled = run.catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(2_500);
    controller.abort(new Error('deadline reached'));
    expect(await settled).toMatchObject({ message: 'deadline reached' });
    expect(calls).toBe(3);
  });
});
