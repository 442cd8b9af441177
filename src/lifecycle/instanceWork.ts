import { isAbort } from './errors.js';
import { untilAborted } from './sleep.js';

/** A finished piece of work is reused this long by the instance's other actions (they arrive within seconds). */
const DONE_KEPT_MS = 5 * 60_000;

/**
 * Work on an instance that several of its actions would otherwise each do: an instance with two termination hooks is
 * two actions, and both would drain and delete the same Node. The first to ask does the work; the others wait for
 * its outcome and share it, and for a few minutes after it succeeded they take that success. A failure is never
 * kept (the next one tries again). A waiter whose own signal aborts stops waiting; when the work was aborted by its
 * owner's signal (that action stopped), a waiter does the work itself.
 */
export class InstanceWork {
  private readonly running = new Map<string, Promise<unknown>>();
  private readonly done = new Map<string, { value: unknown; atMs: number }>();

  constructor(private readonly nowMs: () => number = Date.now) {}

  async once<T>(key: string, signal: AbortSignal, work: () => Promise<T>, onJoin: () => void): Promise<T> {
    for (;;) {
      const finished = this.done.get(key);
      if (finished && this.nowMs() - finished.atMs < DONE_KEPT_MS) {
        onJoin();
        return finished.value as T;
      }
      const current = this.running.get(key) as Promise<T> | undefined;
      if (!current) break;
      onJoin();
      try {
        return await untilAborted(current, signal);
      } catch (e) {
        if (signal.aborted || !isAbort(e)) throw e;
        // The action doing it was stopped; this one carries on (and may do it itself).
      }
    }
    const started = work();
    this.running.set(key, started);
    try {
      const value = await started;
      this.forgetOld();
      this.done.set(key, { value, atMs: this.nowMs() });
      return value;
    } finally {
      if (this.running.get(key) === started) this.running.delete(key);
    }
  }

  private forgetOld(): void {
    for (const [key, d] of this.done) if (this.nowMs() - d.atMs >= DONE_KEPT_MS) this.done.delete(key);
  }
}
