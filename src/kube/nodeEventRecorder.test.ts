import { afterEach, describe, expect, it, vi } from 'vitest';
import { silentLogger } from '../observability/logger.js';
import type { KubeClients } from './apiClients.js';
import { NodeEventRecorder } from './nodeEventRecorder.js';

/** Clients whose Event creation never answers and ignores its signal (an apiserver that hangs). */
function hangingClients(): { clients: KubeClients; signals: AbortSignal[] } {
  const signals: AbortSignal[] = [];
  const clients = {
    call: (signal: AbortSignal, _op: string, run: (o: unknown) => Promise<unknown>) => { signals.push(signal); return run({}); },
    core: { createNamespacedEvent: () => new Promise(() => {}) },
  } as unknown as KubeClients;
  return { clients, signals };
}

describe('NodeEventRecorder', () => {
  afterEach(() => vi.useRealTimers());

  it('bounds each Event in time and never lets shutdown wait on one longer than its flush budget', async () => {
    vi.useFakeTimers();
    const { clients, signals } = hangingClients();
    const recorder = new NodeEventRecorder(clients, silentLogger, 'replica-0');
    recorder.publish({ name: 'n1', uid: 'u1' }, { reason: 'LifecycleHookReceived', type: 'Normal', message: 'hello' });
    let flushed = false;
    void recorder.flush(5_000).then(() => { flushed = true; });
    await vi.advanceTimersByTimeAsync(4_999);
    expect(flushed).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(flushed).toBe(true);
    // The request itself is given up after its own bound.
    expect(signals[0]?.aborted).toBe(false);
    await vi.advanceTimersByTimeAsync(5_000);
    expect(signals[0]?.aborted).toBe(true);
  });
});
