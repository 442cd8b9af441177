import type { Logger } from '../observability/logger.js';
import type { LifecycleAction } from './action.js';
import { describeError } from './errors.js';
import type { ActionPhase, ActionStore } from './ports.js';
import { sleep } from './sleep.js';

/**
 * Keeps this replica's ownership of an action alive: renews its record every third of its lease duration and
 * writes the current phase as it changes. Calls `onLost` once when another replica owns the action now (after
 * an outage during which this replica could not renew). Ends when the signal aborts.
 */
export async function keepOwnership(options: {
  readonly action: LifecycleAction;
  readonly store: ActionStore;
  readonly heartbeatTimeoutSeconds: number;
  readonly currentPhase: () => ActionPhase;
  readonly log: Logger;
  readonly signal: AbortSignal;
  readonly onLost: () => void;
}): Promise<void> {
  const { action, store, log, signal } = options;
  const everyMs = (store.leaseDurationFor(options.heartbeatTimeoutSeconds) * 1000) / 3;
  let written: ActionPhase | undefined;
  try {
    for (;;) {
      await sleep(everyMs, signal);
      const phase = options.currentPhase();
      try {
        const result = await store.renew(action, phase !== written ? phase : undefined, signal);
        if (result === 'lost') {
          log.warn('another replica has taken this action over; stopping here without completing it');
          options.onLost();
          return;
        }
        written = phase;
      } catch (e) {
        if (signal.aborted) return;
        log.warn(`could not renew ownership of the action (will retry): ${describeError(e)}`, { error: e });
      }
    }
  } catch {
    // stopped
  }
}
