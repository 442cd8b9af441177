import { isTransient } from './errors.js';
import { type Backoff, backoffDelayMs, sleep } from './sleep.js';

const DEFAULT_BACKOFF: Backoff = { minMs: 500, maxMs: 10_000 };

/**
 * Calls `call` until it succeeds, retrying TransientError (throttling, 5xx, network) with jittered exponential
 * backoff; any other error, or the signal aborting, ends it. API outages therefore wait within the deadline
 * instead of failing the action at once.
 */
export async function retryUntil<T>(call: () => Promise<T>, signal: AbortSignal, backoff: Backoff = DEFAULT_BACKOFF, onRetry?: (e: unknown) => void): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (e) {
      if (!isTransient(e) || signal.aborted) throw e;
      onRetry?.(e);
      await sleep(backoffDelayMs(attempt, backoff), signal);
    }
  }
}
