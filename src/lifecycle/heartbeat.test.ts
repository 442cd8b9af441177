import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { silentLogger } from '../observability/logger.js';
import type { LifecycleAction } from './action.js';
import { ActionGoneError, TransientError } from './errors.js';
import { keepActionAlive } from './heartbeat.js';
import type { AutoScalingPort } from './ports.js';

const action: LifecycleAction = { autoScalingGroupName: 'g', lifecycleHookName: 'h', instanceId: 'i-0123456789abcdef0', lifecycleActionToken: 't', requestId: 'r', messageTime: undefined, format: 'autoscaling' };

function fakeAutoScaling(answers: Array<'ok' | 'throttle' | 'gone'>): AutoScalingPort & { beats: number[] } {
  const beats: number[] = [];
  return {
    beats,
    describeInstance: async () => undefined,
    describeLifecycleHook: async () => undefined,
    completeAction: async () => 'completed',
    recordHeartbeat: async () => {
      beats.push(Date.now());
      const answer = answers.shift() ?? 'ok';
      if (answer === 'throttle') throw new TransientError('Rate exceeded', true);
      if (answer === 'gone') throw new ActionGoneError(action.instanceId);
    },
  };
}

describe('keepActionAlive', () => {
  beforeEach(() => vi.useFakeTimers({ now: 0 }));
  afterEach(() => vi.useRealTimers());

  it('sends one heartbeat at once and then one every interval until stopped', async () => {
    const asg = fakeAutoScaling([]);
    const stop = new AbortController();
    const loop = keepActionAlive({ action, intervalMs: 150_000, autoScaling: asg, log: silentLogger, signal: stop.signal, onGone: () => {}, retry: { minMs: 1000, maxMs: 1000 } });
    await vi.advanceTimersByTimeAsync(0);
    expect(asg.beats).toEqual([0]);
    await vi.advanceTimersByTimeAsync(150_000 * 3);
    expect(asg.beats).toEqual([0, 150_000, 300_000, 450_000]);
    stop.abort();
    await loop;
    await vi.advanceTimersByTimeAsync(150_000 * 3);
    expect(asg.beats).toHaveLength(4);
    expect(vi.getTimerCount()).toBe(0); // nothing left scheduled
  });

  it('retries a throttled heartbeat with backoff instead of dropping it, then keeps the schedule from the accepted one', async () => {
    const asg = fakeAutoScaling(['ok', 'throttle', 'throttle', 'ok']);
    const stop = new AbortController();
    const results: string[] = [];
    const loop = keepActionAlive({ action, intervalMs: 60_000, autoScaling: asg, log: silentLogger, signal: stop.signal, onGone: () => {}, onBeat: (r) => results.push(r), retry: { minMs: 1000, maxMs: 1000 } });
    await vi.advanceTimersByTimeAsync(60_000 + 2_000);
    expect(asg.beats).toEqual([0, 60_000, 61_000, 62_000]);
    expect(results).toEqual(['sent', 'retried', 'retried', 'sent']);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(asg.beats.at(-1)).toBe(122_000);
    stop.abort();
    await loop;
  });

  it('stops and reports when AWS has no active lifecycle action', async () => {
    const asg = fakeAutoScaling(['ok', 'gone']);
    const onGone = vi.fn();
    const loop = keepActionAlive({ action, intervalMs: 10_000, autoScaling: asg, log: silentLogger, signal: new AbortController().signal, onGone });
    await vi.advanceTimersByTimeAsync(100_000);
    await loop;
    expect(asg.beats).toEqual([0, 10_000]);
    expect(onGone).toHaveBeenCalledTimes(1);
  });

  it('never lets a retry wait longer than a third of the interval', async () => {
    const asg = fakeAutoScaling(['throttle', 'throttle', 'throttle', 'ok']);
    const stop = new AbortController();
    const loop = keepActionAlive({ action, intervalMs: 15_000, autoScaling: asg, log: silentLogger, signal: stop.signal, onGone: () => {}, retry: { minMs: 60_000, maxMs: 60_000 } });
    await vi.advanceTimersByTimeAsync(15_000);
    const gaps = asg.beats.slice(1).map((t, i) => t - asg.beats[i]!);
    expect(gaps.slice(0, 3).every((g) => g <= 5_000)).toBe(true);
    stop.abort();
    await loop;
  });
});
