import { describeError, isTransient } from '../lifecycle/errors.js';
import { isReportableFailure } from '../lifecycle/retryUntil.js';
import { Semaphore } from '../lifecycle/semaphore.js';
import type { Logger } from '../observability/logger.js';
import { type Backoff, backoffDelayMs, sleep } from '../lifecycle/sleep.js';
import { TokenBucket } from './tokenBucket.js';

export interface CallBudgetConfig {
  /** Sustained calls per second allowed for each API operation. */
  readonly ratePerSecond: number;
  /** Calls each operation may make at once after a quiet period. */
  readonly burst: number;
  /** Calls in flight at once, all operations together. */
  readonly maxConcurrent: number;
  /** Backoff between retries of a throttled or otherwise transient failure. */
  readonly backoff: Backoff;
  /** Where an operation that keeps failing is reported while it is retried. */
  readonly log?: Logger;
}

export const DEFAULT_CALL_BACKOFF: Backoff = { minMs: 500, maxMs: 10_000 };

/**
 * The one place Elastic Load Balancing calls are paced: a token bucket per API operation plus a bound on calls in
 * flight. A transient failure (throttling, 5xx, network) is retried with jittered backoff until the caller's signal
 * aborts; a throttling answer also pauses that operation's bucket, so every caller backs off, not just this one.
 * An operation that keeps failing is logged at warn with its name and count while it is retried.
 */
export class CallBudget {
  private readonly buckets = new Map<string, TokenBucket>();
  private readonly slots: Semaphore;

  constructor(private readonly config: CallBudgetConfig, private readonly nowMs: () => number = Date.now) {
    this.slots = new Semaphore(config.maxConcurrent);
  }

  async run<T>(operation: string, signal: AbortSignal, call: () => Promise<T>, onRetry?: (e: unknown, delayMs: number) => void): Promise<T> {
    const bucket = this.bucket(operation);
    for (let attempt = 1; ; attempt++) {
      await bucket.take(signal);
      try {
        return await this.slots.with(signal, call);
      } catch (e) {
        if (!isTransient(e) || signal.aborted) throw e;
        const delayMs = backoffDelayMs(attempt, this.config.backoff);
        if (e.throttled) bucket.pause(this.nowMs() + delayMs);
        if (isReportableFailure(attempt)) {
          this.config.log?.warn(`${operation} has failed ${attempt} times in a row (${describeError(e)}); still retrying`, { error: e });
        }
        onRetry?.(e, delayMs);
        await sleep(delayMs, signal);
      }
    }
  }

  private bucket(operation: string): TokenBucket {
    let bucket = this.buckets.get(operation);
    if (!bucket) {
      bucket = new TokenBucket({ ratePerSecond: this.config.ratePerSecond, capacity: this.config.burst }, this.nowMs);
      this.buckets.set(operation, bucket);
    }
    return bucket;
  }
}
