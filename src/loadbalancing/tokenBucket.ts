import { abortReason } from '../lifecycle/sleep.js';

export interface TokenBucketConfig {
  /** Tokens added per second. */
  readonly ratePerSecond: number;
  /** Most tokens the bucket holds (the burst). */
  readonly capacity: number;
}

interface Waiter {
  readonly resolve: () => void;
  readonly reject: (e: unknown) => void;
  readonly signal: AbortSignal;
  readonly onAbort: () => void;
}

/**
 * A token bucket (the algorithm Elastic Load Balancing throttles with). `take` resolves when a token is available;
 * waiting callers are served first come, first served, and a caller whose signal aborts leaves the queue. `pause`
 * empties the bucket and admits nobody until the given time, refilling only after it — what a throttling answer
 * from AWS asks for.
 */
export class TokenBucket {
  private tokens: number;
  private refilledAtMs: number;
  private pausedUntilMs = 0;
  private readonly queue: Waiter[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly config: TokenBucketConfig, private readonly nowMs: () => number = Date.now) {
    if (!(config.ratePerSecond > 0) || !(config.capacity >= 1)) throw new Error(`invalid token bucket: ${JSON.stringify(config)}`);
    this.tokens = config.capacity;
    this.refilledAtMs = nowMs();
  }

  /** Resolves when the caller may make one call; rejects with the signal's reason when it aborts first. */
  take(signal: AbortSignal): Promise<void> {
    if (signal.aborted) return Promise.reject(abortReason(signal));
    this.refill();
    if (this.queue.length === 0 && this.tokens >= 1 && this.nowMs() >= this.pausedUntilMs) {
      this.tokens -= 1;
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        resolve, reject, signal,
        onAbort: () => {
          const i = this.queue.indexOf(waiter);
          if (i >= 0) this.queue.splice(i, 1);
          reject(abortReason(signal));
          this.schedule();
        },
      };
      signal.addEventListener('abort', waiter.onAbort, { once: true });
      this.queue.push(waiter);
      this.schedule();
    });
  }

  /** Empties the bucket and admits nobody before `untilMs` (epoch ms). */
  pause(untilMs: number): void {
    this.refill();
    this.tokens = Math.min(this.tokens, 0);
    this.pausedUntilMs = Math.max(this.pausedUntilMs, untilMs);
    this.schedule();
  }

  /** Callers waiting for a token. */
  get waiting(): number {
    return this.queue.length;
  }

  private pump(): void {
    this.timer = undefined;
    this.refill();
    while (this.queue.length > 0 && this.tokens >= 1 && this.nowMs() >= this.pausedUntilMs) {
      this.tokens -= 1;
      const next = this.queue.shift()!;
      next.signal.removeEventListener('abort', next.onAbort);
      next.resolve();
    }
    this.schedule();
  }

  private schedule(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.queue.length === 0) return;
    this.refill();
    const now = this.nowMs();
    const refillMs = this.tokens >= 1 ? 0 : Math.ceil(((1 - this.tokens) * 1000) / this.config.ratePerSecond);
    this.timer = setTimeout(() => this.pump(), Math.max(0, this.pausedUntilMs - now, refillMs));
  }

  private refill(): void {
    const now = this.nowMs();
    // Nothing accrues during a pause: after a throttling answer the bucket restarts empty, not with a burst.
    const elapsedMs = Math.max(0, now - Math.max(this.refilledAtMs, this.pausedUntilMs));
    this.refilledAtMs = now;
    this.tokens = Math.min(this.config.capacity, this.tokens + (elapsedMs * this.config.ratePerSecond) / 1000);
  }
}
