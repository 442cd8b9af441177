import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { MAX_TIMER_MS, linkedSignal, sleep } from './sleep.js';

describe('sleep and linkedSignal', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('waits longer than one Node.js timer can (a longer setTimeout fires at once)', async () => {
    let done = false;
    void sleep(MAX_TIMER_MS + 60_000).then(() => { done = true; });
    await vi.advanceTimersByTimeAsync(1_000);
    expect(done).toBe(false);
    await vi.advanceTimersByTimeAsync(MAX_TIMER_MS);
    expect(done).toBe(false);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(done).toBe(true);
  });

  it('times a linked signal out no sooner than asked, however long', async () => {
    const { signal, dispose } = linkedSignal([], 3 * MAX_TIMER_MS);
    await vi.advanceTimersByTimeAsync(2 * MAX_TIMER_MS);
    expect(signal.aborted).toBe(false);
    await vi.advanceTimersByTimeAsync(MAX_TIMER_MS + 1);
    expect(signal.aborted).toBe(true);
    expect((signal.reason as Error).name).toBe('TimeoutError');
    dispose();
  });
});
