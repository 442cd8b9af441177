import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { FakeLoadBalancers } from '../../test/unit/fakeLoadBalancers.js';
import { createLogger, silentLogger } from '../observability/logger.js';
import { CallBudget } from './callBudget.js';
import { TargetGroupOperations } from './targetGroups.js';

const live = (): AbortSignal => new AbortController().signal;
const timings = { batchWindowMs: 100, pollIntervalMs: 2_000, firstPollSlackMs: 500, attributesTtlMs: 600_000, callTimeoutMs: 60_000 };

function setup(delaySeconds: number) {
  const elb = new FakeLoadBalancers();
  const budget = new CallBudget({ ratePerSecond: 1_000, burst: 1_000, maxConcurrent: 10, backoff: { minMs: 100, maxMs: 100 } });
  const ops = new TargetGroupOperations(elb, budget, timings);
  const arn = elb.addTargetGroup('web', { delaySeconds });
  return { elb, ops, arn };
}

/** Settles `p` under fake timers and reports the fake time it settled at. */
async function settleAt<T>(p: Promise<T>): Promise<number> {
  let at = -1;
  void p.then(() => { at = Date.now(); }, () => { at = Date.now(); });
  await vi.runAllTimersAsync();
  await p;
  return at;
}

describe('TargetGroupOperations', () => {
  beforeEach(() => vi.useFakeTimers({ now: 0 }));
  afterEach(() => vi.useRealTimers());

  it('merges concurrent events\' deregistrations and waits into one call each, timing the first poll from the group\'s deregistration delay', async () => {
    const { elb, ops, arn } = setup(10);
    elb.register(arn, 'i-1', 80);
    elb.register(arn, 'i-1', 8080);
    elb.register(arn, 'i-2', 80);
    const leave = async (targets: Array<{ id: string; port: number }>): Promise<void> => {
      const since = Date.now();
      await ops.deregister(arn, targets, live());
      await ops.awaitDeregistered(arn, targets, since, silentLogger, live());
    };
    const both = Promise.all([leave([{ id: 'i-1', port: 80 }, { id: 'i-1', port: 8080 }]), leave([{ id: 'i-2', port: 80 }])]);
    const doneAt = await settleAt(both);

    expect(elb.calls.filter((c) => c.op === 'DeregisterTargets').map((c) => [...c.items].sort())).toEqual([['i-1:80', 'i-1:8080', 'i-2:80']]);
    expect(elb.count('DescribeTargetGroupAttributes')).toBe(1);
    expect(elb.count('DescribeTargetHealth')).toBe(1); // one merged poll, after the delay: no wasted polls while draining
    expect(elb.live(arn)).toEqual([]);
    expect(doneAt).toBeGreaterThanOrEqual(10_000);
    expect(doneAt).toBeLessThan(10_000 + 1_000);
  });

  it('keeps polling every interval while a target drains longer than the delay said, and stops within one interval of it leaving', async () => {
    const { elb, ops, arn } = setup(7);
    elb.register(arn, 'i-1', 80);
    await settleAt(ops.deregister(arn, [{ id: 'i-1', port: 80 }], live()));
    elb.groups.get(arn)!.delaySeconds = 2; // the attribute now claims 2 s; the target still drains until 7.1 s
    const doneAt = await settleAt(ops.awaitDeregistered(arn, [{ id: 'i-1', port: 80 }], 0, silentLogger, live()));
    expect(doneAt).toBeGreaterThanOrEqual(7_100);
    expect(doneAt).toBeLessThanOrEqual(7_100 + timings.pollIntervalMs + timings.batchWindowMs);
    expect(elb.count('DescribeTargetHealth')).toBe(4); // 2.6 s, 4.7 s, 6.8 s (draining), 8.9 s (gone)
  });

  it('treats InvalidTarget as "already gone" for those targets and deregisters the rest again', async () => {
    const { elb, ops, arn } = setup(0);
    elb.register(arn, 'i-1', 80);
    await settleAt(ops.deregister(arn, [{ id: 'i-1', port: 80 }, { id: 'i-1', port: 9090 }], live()));
    expect(elb.calls.filter((c) => c.op !== 'DescribeTargetGroupAttributes').map((c) => `${c.op} ${c.items.join(',')}`)).toEqual([
      'DeregisterTargets i-1:80,i-1:9090',
      'DescribeTargetHealth i-1:80,i-1:9090',
      'DeregisterTargets i-1:80',
    ]);
    expect(elb.live(arn)).toEqual([]);
  });

  it('deregisters a target again when something registers it again while we wait, and says so', async () => {
    const { elb, ops, arn } = setup(3);
    const lines: string[] = [];
    const log = createLogger({ level: 'info', format: 'text', write: (l) => lines.push(l) });
    elb.register(arn, 'i-1', 80);
    await settleAt(ops.deregister(arn, [{ id: 'i-1', port: 80 }], live()));
    elb.register(arn, 'i-1', 80); // e.g. a controller that has not seen the exclusion label yet
    await settleAt(ops.awaitDeregistered(arn, [{ id: 'i-1', port: 80 }], 0, log, live()));
    expect(elb.count('DeregisterTargets')).toBe(2);
    expect(lines.some((l) => l.includes('targets i-1:80 are registered again in target group web; deregistering them again'))).toBe(true);
    expect(elb.live(arn)).toEqual([]);
  });

  it('ends the wait when the event\'s signal aborts (deadline), without polling on', async () => {
    const { elb, ops, arn } = setup(300);
    elb.register(arn, 'i-1', 80);
    await settleAt(ops.deregister(arn, [{ id: 'i-1', port: 80 }], live()));
    const deadline = new AbortController();
    const waiting = ops.awaitDeregistered(arn, [{ id: 'i-1', port: 80 }], 0, silentLogger, deadline.signal);
    const outcome = waiting.catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(60_000);
    deadline.abort(new Error('deadline reached'));
    expect(await outcome).toMatchObject({ message: 'deadline reached' });
    await vi.runAllTimersAsync();
    expect(elb.count('DescribeTargetHealth')).toBe(0);
  });
});
