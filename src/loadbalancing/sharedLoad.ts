import { untilAborted, withTimeout } from '../lifecycle/sleep.js';

interface Load<V> {
  readonly startedAtMs: number;
  readonly value: Promise<V>;
}

/**
 * Loads shared by every caller: a caller gets the latest load for its key (running or finished) if it started no
 * earlier than the caller's `notBeforeMs`, otherwise a new load starts and replaces it. A failed load is forgotten,
 * so the next caller tries again. The load runs on its own timeout, not on any caller's signal: a caller whose
 * signal aborts stops waiting without cancelling the work others wait for.
 */
export class SharedLoad<K, V> {
  private readonly loads = new Map<K, Load<V>>();

  constructor(private readonly loadTimeoutMs: number, private readonly nowMs: () => number = Date.now) {}

  get(key: K, notBeforeMs: number, load: (signal: AbortSignal) => Promise<V>, signal: AbortSignal): Promise<V> {
    const current = this.loads.get(key);
    if (current && current.startedAtMs >= notBeforeMs) return untilAborted(current.value, signal);
    const started: Load<V> = { startedAtMs: this.nowMs(), value: withTimeout([], this.loadTimeoutMs, load) };
    this.loads.set(key, started);
    started.value.catch(() => {
      if (this.loads.get(key) === started) this.loads.delete(key);
    });
    return untilAborted(started.value, signal);
  }

  /** When the latest load for the key started, if any. */
  startedAtMs(key: K): number | undefined {
    return this.loads.get(key)?.startedAtMs;
  }
}
