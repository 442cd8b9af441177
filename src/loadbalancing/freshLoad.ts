import { untilAborted, withTimeout } from '../lifecycle/sleep.js';

/** A loaded value and when the request that loaded it was sent. */
export interface Fresh<V> {
  readonly value: V;
  readonly sentAtMs: number;
}

interface Flight<V> {
  sentAtMs: number | undefined;
  promise: Promise<Fresh<V>>;
}

/**
 * One value loaded on demand and shared (single flight): a caller asks for a value loaded by a request sent at or
 * after its `notBeforeMs` and gets the latest one if it qualifies, joins the load in flight if that one was sent
 * late enough (or is still waiting for its turn in the call budget), or starts a new one. Freshness counts from the
 * moment the request is sent (the load calls `sent()` then), not from when it was asked for: a load that waits for
 * the rate budget serves everyone who asked meanwhile. A failed load changes nothing; the next caller tries again.
 * The load runs on its own timeout, not on a caller's signal: a caller that stops waiting cancels nothing.
 */
export class FreshLoad<V> {
  private latest: Fresh<V> | undefined;
  private readonly flights: Array<Flight<V>> = [];

  constructor(
    private readonly load: (sent: () => void, signal: AbortSignal) => Promise<V>,
    private readonly timeoutMs: number,
    private readonly nowMs: () => number = Date.now,
  ) {}

  /** The latest value, if its request was sent at or after `notBeforeMs`. */
  current(notBeforeMs: number): Fresh<V> | undefined {
    return this.latest && this.latest.sentAtMs >= notBeforeMs ? this.latest : undefined;
  }

  /** When the request behind the latest value was sent; undefined before the first successful load. */
  get sentAtMs(): number | undefined {
    return this.latest?.sentAtMs;
  }

  get loading(): boolean {
    return this.flights.length > 0;
  }

  get(notBeforeMs: number, signal: AbortSignal): Promise<Fresh<V>> {
    const now = this.current(notBeforeMs);
    if (now) return Promise.resolve(now);
    const joinable = this.flights.find((f) => f.sentAtMs === undefined || f.sentAtMs >= notBeforeMs);
    return untilAborted((joinable ?? this.start()).promise, signal);
  }

  /** Replaces the value (e.g. a target group found deleted by another read). */
  set(value: V, sentAtMs: number): void {
    if (!this.latest || sentAtMs >= this.latest.sentAtMs) this.latest = { value, sentAtMs };
  }

  private start(): Flight<V> {
    const flight: Flight<V> = { sentAtMs: undefined, promise: Promise.resolve(undefined as never) };
    flight.promise = withTimeout([], this.timeoutMs, (signal) => this.load(() => { flight.sentAtMs ??= this.nowMs(); }, signal))
      .then((value) => {
        const sentAtMs = flight.sentAtMs ?? this.nowMs();
        this.set(value, sentAtMs);
        return { value, sentAtMs };
      });
    const done = (): void => {
      const i = this.flights.indexOf(flight);
      if (i >= 0) this.flights.splice(i, 1);
    };
    flight.promise.then(done, done);
    this.flights.push(flight);
    return flight;
  }
}
