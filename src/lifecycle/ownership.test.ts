import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { FakeStore, pod, setup } from '../../test/unit/fakes/workflow.js';
import { silentLogger } from '../observability/logger.js';
import { type LifecycleAction, actionKey } from './action.js';
import { keepOwnership } from './ownership.js';
import type { ActionPhase } from './ports.js';

const action: LifecycleAction = { autoScalingGroupName: 'g', lifecycleHookName: 'h', instanceId: 'i-0123456789abcdef0', lifecycleActionToken: 'tok-1', requestId: 'req-1', messageTime: undefined, format: 'autoscaling' };
/** FakeStore.leaseDurationFor is 5 s: the loop looks every third of it. */
const TICK_MS = 5_000 / 3;

function held(store: FakeStore, holder = store.identity): void {
  store.records.set(actionKey(action), { action, phase: 'verified', receivedAtMs: 0, deadlineMs: 3_600_000, heartbeatTimeoutSeconds: 60, holder });
}

function run(store: FakeStore, phase: () => ActionPhase, onLost = (): void => {}) {
  const stop = new AbortController();
  const loop = keepOwnership({ action, store, heartbeatTimeoutSeconds: 60, recordedPhase: 'verified', currentPhase: phase, log: silentLogger, signal: stop.signal, onLost });
  return { stop: async () => { stop.abort(); await loop; }, loop };
}

describe('keepOwnership', () => {
  beforeEach(() => vi.useFakeTimers({ now: 0 }));
  afterEach(() => vi.useRealTimers());

  it('writes nothing for an action that stays in one phase, however long it runs: the replica\'s liveness is renewed for it instead', async () => {
    const store = new FakeStore();
    held(store);
    const owned = run(store, () => 'draining');
    await vi.advanceTimersByTimeAsync(0);
    expect(store.liveness.required).toEqual([5]);
    await vi.advanceTimersByTimeAsync(120_000);
    // One write of the phase it entered, none for renewal.
    expect(store.writes).toEqual(['draining']);
    await owned.stop();
    expect(store.liveness.required).toEqual([]);
  });

  it('writes a phase once it lasted a third of the lease duration; a phase that passes quickly is never written', async () => {
    const store = new FakeStore();
    held(store);
    let phase: ActionPhase = 'verified';
    const owned = run(store, () => phase);
    await vi.advanceTimersByTimeAsync(100);
    phase = 'cordoning';
    await vi.advanceTimersByTimeAsync(400);
    phase = 'deregistering';
    await vi.advanceTimersByTimeAsync(TICK_MS); // first look: deregistering, new since the last look
    expect(store.writes).toEqual([]);
    await vi.advanceTimersByTimeAsync(TICK_MS); // still deregistering: written
    expect(store.writes).toEqual(['deregistering']);
    phase = 'draining';
    await vi.advanceTimersByTimeAsync(10 * TICK_MS);
    expect(store.writes).toEqual(['deregistering', 'draining']);
    expect(store.records.get(actionKey(action))?.phase).toBe('draining');
    await owned.stop();
  });

  it('checks its record once after the replica\'s liveness lapsed, and stops when another replica took the action over meanwhile', async () => {
    const store = new FakeStore();
    held(store);
    const lost = vi.fn();
    const owned = run(store, () => 'verified', lost);
    await vi.advanceTimersByTimeAsync(3 * TICK_MS);
    expect(store.writes).toEqual([]);
    store.liveness.lapses = 1; // renewed again after an outage; nobody took the action
    await vi.advanceTimersByTimeAsync(3 * TICK_MS);
    expect(store.writes).toEqual(['-']);
    expect(lost).not.toHaveBeenCalled();
    held(store, 'replica-b'); // the next outage was long enough for replica-b to take it over
    store.liveness.lapses = 2;
    await vi.advanceTimersByTimeAsync(3 * TICK_MS);
    expect(store.writes).toEqual(['-', '-']);
    expect(lost).toHaveBeenCalledTimes(1);
    await owned.loop;
    expect(store.liveness.required).toEqual([]);
  });
});

describe('confirming ownership before completing', () => {
  it('asks nothing while the replica\'s liveness vouches for the action', async () => {
    const t = setup({ withStore: true });
    t.cluster.pods = [pod('a')];
    const [m, message] = t.message();
    await t.workflow.handleMessage(m, message);
    expect(t.autoScaling.completions).toEqual(['CONTINUE']);
    expect(t.store.writes).not.toContain('completing');
  });

  it('writes the record first when the liveness cannot vouch, and does not complete an action another replica took over', async () => {
    const t = setup({ withStore: true });
    t.store.liveness.fresh = false;
    const [m, message] = t.message();
    await t.workflow.handleMessage(m, message);
    expect(t.store.writes).toContain('completing');
    expect(t.autoScaling.completions).toEqual(['CONTINUE']);

    const u = setup({ withStore: true });
    u.store.liveness.fresh = false;
    const renew = u.store.renew.bind(u.store);
    u.store.renew = async (a, phase, signal) => {
      if (phase === 'completing') held(u.store, 'replica-b');
      return renew(a, phase, signal);
    };
    const [m2, message2] = u.message();
    await u.workflow.handleMessage(m2, message2);
    expect(u.autoScaling.completions).toEqual([]);
  });
});
