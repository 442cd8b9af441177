import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { TokenBucket } from './tokenBucket.js';

/** Takes `n` tokens concurrently and records, per caller, the fake time at which it was admitted. */
function admitTimes(bucket: TokenBucket, n: number, signal = new AbortController().signal): Array<Promise<number>> {
  const start = Date.now();
  return Array.from({ length: n }, () => bucket.take(signal).then(() => Date.now() - start));
}

describe('TokenBucket', () => {
  beforeEach(() => vi.useFakeTimers({ now: 0 }));
  afterEach(() => vi.useRealTimers());

  it('admits a burst up to its capacity at once, then one caller per 1/rate seconds, in arrival order', async () => {
    const bucket = new TokenBucket({ ratePerSecond: 4, capacity: 2 });
    const times = admitTimes(bucket, 5);
    await vi.runAllTimersAsync();
    expect(await Promise.all(times)).toEqual([0, 0, 250, 500, 750]);
  });

  it('refills while idle, but never beyond its capacity', async () => {
    const bucket = new TokenBucket({ ratePerSecond: 10, capacity: 3 });
    await Promise.all(admitTimes(bucket, 3));
    await vi.advanceTimersByTimeAsync(60_000);
    const times = admitTimes(bucket, 4);
    await vi.runAllTimersAsync();
    expect(await Promise.all(times)).toEqual([0, 0, 0, 100]);
  });

  it('drops a caller whose signal aborts while waiting, without delaying the ones behind it', async () => {
    const bucket = new TokenBucket({ ratePerSecond: 1, capacity: 1 });
    await bucket.take(new AbortController().signal);
    const quitter = new AbortController();
    const abandoned = bucket.take(quitter.signal);
    const next = admitTimes(bucket, 1)[0]!;
    quitter.abort(new Error('deadline'));
    await expect(abandoned).rejects.toThrow('deadline');
    expect(bucket.waiting).toBe(1);
    await vi.runAllTimersAsync();
    expect(await next).toBe(1000);
    expect(bucket.waiting).toBe(0);
  });

  it('admits nobody during a pause (a throttling answer) and refills only after it', async () => {
    const bucket = new TokenBucket({ ratePerSecond: 2, capacity: 5 });
    bucket.pause(3_000);
    const times = admitTimes(bucket, 3);
    await vi.runAllTimersAsync();
    expect(await Promise.all(times)).toEqual([3500, 4000, 4500]);
  });

  it('rejects at once for an already aborted signal', async () => {
    const bucket = new TokenBucket({ ratePerSecond: 1, capacity: 1 });
    await expect(bucket.take(AbortSignal.abort(new Error('shutdown')))).rejects.toThrow('shutdown');
  });
});
