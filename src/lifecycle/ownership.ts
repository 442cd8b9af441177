import type { Logger } from '../observability/logger.js';
import type { LifecycleAction } from './action.js';
import { describeError } from './errors.js';
import type { ActionPhase, ActionStore } from './ports.js';
import { sleep } from './sleep.js';

/**
 * Keeps this replica's ownership of an action: the replica's liveness (renewed once for all its actions) is asked to
 * renew at least every third of the action's lease duration, and the action's record is written only
 *  - when its phase changed and the new phase has lasted a whole third of the lease duration (a phase that passes
 *    quickly is never written: every step is idempotent, so a resume from the phase before re-runs only that much);
 *  - after the liveness lapsed (it could not be renewed for longer than a lease duration, e.g. an apiserver
 *    outage), to find out whether another replica took the action over meanwhile: `onLost` is called once then.
 * Ends when the signal aborts.
 */
export async function keepOwnership(options: {
  readonly action: LifecycleAction;
  readonly store: ActionStore;
  readonly heartbeatTimeoutSeconds: number;
  /** The phase the record holds already (the claim wrote it). */
  readonly recordedPhase: ActionPhase;
  readonly currentPhase: () => ActionPhase;
  readonly log: Logger;
  readonly signal: AbortSignal;
  readonly onLost: () => void;
}): Promise<void> {
  const { action, store, log, signal } = options;
  const leaseSeconds = store.leaseDurationFor(options.heartbeatTimeoutSeconds);
  const everyMs = (leaseSeconds * 1000) / 3;
  const unrequire = store.liveness.require(leaseSeconds);
  let written = options.recordedPhase;
  let previous = options.currentPhase();
  let lapses = store.liveness.lapses;
  try {
    for (;;) {
      await sleep(everyMs, signal);
      const phase = options.currentPhase();
      // Seen at the last tick too: it has been the phase for a third of the lease duration at least.
      const lasting = phase === previous;
      previous = phase;
      const lapsesNow = store.liveness.lapses;
      const writePhase = lasting && phase !== written;
      if (!writePhase && lapsesNow === lapses) continue;
      try {
        const result = await store.renew(action, writePhase ? phase : undefined, signal);
        if (result === 'lost') {
          log.warn('another replica has taken this action over; stopping here without completing it');
          options.onLost();
          return;
        }
        if (writePhase) written = phase;
        lapses = lapsesNow;
      } catch (e) {
        if (signal.aborted) return;
        log.warn(`could not write the action's record (will retry): ${describeError(e)}`, { error: e });
      }
    }
  } catch {
    // stopped
  } finally {
    unrequire();
  }
}
