import type { Logger } from '../observability/logger.js';
import { describeError, isTransient } from './errors.js';
import { type Backoff, backoffDelayMs, sleep } from './sleep.js';

const DEFAULT_BACKOFF: Backoff = { minMs: 500, maxMs: 10_000 };

/** Consecutive failures after which a call still being retried is reported at warn, and then every this many more. */
export const REPORT_AFTER_FAILURES = 3;
export const REPORT_EVERY_FAILURES = 10;

export interface RetryOptions {
  readonly backoff?: Backoff;
  /** What is being called, e.g. "list pods on node x": named in the warning when it keeps failing. */
  readonly operation?: string;
  /** Where a call that keeps failing is reported (at its 3rd consecutive failure, then every 10th). */
  readonly log?: Logger;
  readonly onRetry?: (e: unknown, attempt: number) => void;
}

/** True when the `failures`-th consecutive failure of a retried call should be logged. */
export function isReportableFailure(failures: number): boolean {
  return failures === REPORT_AFTER_FAILURES || (failures > REPORT_AFTER_FAILURES && (failures - REPORT_AFTER_FAILURES) % REPORT_EVERY_FAILURES === 0);
}

/**
 * Calls `call` until it succeeds, retrying TransientError (throttling, 5xx, network) with jittered exponential
 * backoff; any other error, or the signal aborting, ends it. API outages therefore wait within the deadline
 * instead of failing the action at once; a call that keeps failing is logged at warn with its count, never retried
 * silently.
 */
export async function retryUntil<T>(call: () => Promise<T>, signal: AbortSignal, options: RetryOptions = {}): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (e) {
      if (!isTransient(e) || signal.aborted) throw e;
      options.onRetry?.(e, attempt);
      if (options.log && isReportableFailure(attempt)) {
        options.log.warn(`${options.operation ?? 'a Kubernetes or AWS call'} has failed ${attempt} times in a row (${describeError(e)}); still retrying`, { error: e });
      }
      await sleep(backoffDelayMs(attempt, options.backoff ?? DEFAULT_BACKOFF), signal);
    }
  }
}
