import type { Logger } from '../observability/logger.js';
import type { LifecycleAction } from './action.js';
import { describeError, isAbort, isActionGone } from './errors.js';
import type { AutoScalingPort } from './ports.js';
import { type Backoff, backoffDelayMs, sleep } from './sleep.js';

export interface HeartbeatOptions {
  readonly action: LifecycleAction;
  /** Time between heartbeats: HeartbeatTimeout / 2. */
  readonly intervalMs: number;
  readonly autoScaling: AutoScalingPort;
  readonly log: Logger;
  /** Aborted when the action is finished, its deadline passes, or the service shuts down. */
  readonly signal: AbortSignal;
  /** Called once when AWS says the action no longer exists; heartbeats stop. */
  readonly onGone: () => void;
  readonly onBeat?: (result: 'sent' | 'retried' | 'gone') => void;
  readonly retry?: Backoff;
  readonly now?: () => number;
}

const DEFAULT_RETRY: Backoff = { minMs: 1_000, maxMs: 15_000 };

/**
 * Keeps a lifecycle action alive: one heartbeat at once, then one every `intervalMs` after the last accepted one,
 * until the signal aborts. A throttled or failed heartbeat is retried with backoff (capped so a retry never waits
 * past a third of the interval), never silently dropped; AWS's "No active Lifecycle Action" stops the loop.
 */
export async function keepActionAlive(options: HeartbeatOptions): Promise<void> {
  const { action, autoScaling, log, signal } = options;
  const now = options.now ?? Date.now;
  const retry = options.retry ?? DEFAULT_RETRY;
  const retryCap: Backoff = { minMs: Math.min(retry.minMs, options.intervalMs / 6), maxMs: Math.min(retry.maxMs, options.intervalMs / 3) };
  let iteration = 0;
  try {
    for (;;) {
      iteration++;
      log.info(`sending heartbeat (${iteration})`);
      for (let attempt = 1; ; attempt++) {
        try {
          await autoScaling.recordHeartbeat(action, signal);
          options.onBeat?.('sent');
          break;
        } catch (e) {
          if (isAbort(e) && signal.aborted) throw e;
          if (isActionGone(e)) {
            log.warn(`failed to send heartbeat for event: no active lifecycle action found; stopping heartbeats`);
            options.onBeat?.('gone');
            options.onGone();
            return;
          }
          const delayMs = backoffDelayMs(attempt, retryCap);
          options.onBeat?.('retried');
          log.warn(`failed to send heartbeat (${iteration}), retrying in ${(delayMs / 1000).toFixed(1)}s: ${describeError(e)}`, { error: e });
          await sleep(delayMs, signal);
        }
      }
      const sentAt = now();
      await sleep(sentAt + options.intervalMs - now(), signal);
    }
  } catch (e) {
    if (!signal.aborted) throw e;
  }
}
