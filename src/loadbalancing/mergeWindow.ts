import { abortReason, withTimeout } from '../lifecycle/sleep.js';

/**
 * One merged call for `key`. `items()` closes the batch and returns everything submitted to it, de-duplicated: call
 * it at the moment the request is really sent (after waiting for the call budget), so that whatever was submitted
 * while the call waited for its turn goes with it. Repeated calls (a retry) return the same items.
 */
export type MergedCall<I, R> = (key: string, items: () => readonly I[], signal: AbortSignal) => Promise<R>;

export interface MergeWindowConfig<I> {
  /** How long the first submission for a key waits for others to join it before the call is started. */
  readonly windowMs: number;
  /** A batch is closed (and started, if it was not yet) when it reaches this many distinct items. */
  readonly maxItems: number;
  /** Bound on the merged call itself; it is shared, so no single caller's signal may cancel it. */
  readonly callTimeoutMs: number;
  /** Identity of an item, for de-duplication. */
  readonly itemKey: (item: I) => string;
}

interface Entry<I, R> {
  readonly items: readonly I[];
  settled: boolean;
  readonly resolve: (r: R) => void;
  readonly reject: (e: unknown) => void;
  readonly detach: () => void;
}

interface Batch<I, R> {
  readonly entries: Entry<I, R>[];
  readonly keys: Set<string>;
  readonly timer: NodeJS.Timeout;
  started: boolean;
  /** The items sent, once the call read them; the batch accepts no one after that. */
  sent: readonly I[] | undefined;
}

/**
 * Merges submissions for the same key (a target group, a load balancer) into one call. The first submission opens
 * a batch; after `windowMs` the call starts, but the batch stays open until the call is really sent — a call that
 * waits for the rate budget takes everyone who arrived meanwhile, so the busier the key, the more each call
 * carries (cost per event falls as concurrency rises). Every caller gets its own promise, settled exactly once
 * with the batch's result or error; a caller whose signal aborts before the call is sent leaves the batch (its
 * items are not sent unless another caller also submitted them); after that it merely stops waiting.
 */
export class MergeWindow<I, R> {
  private readonly open = new Map<string, Batch<I, R>>();

  constructor(private readonly config: MergeWindowConfig<I>, private readonly call: MergedCall<I, R>) {}

  submit(key: string, items: readonly I[], signal: AbortSignal): Promise<R> {
    if (signal.aborted) return Promise.reject(abortReason(signal));
    return new Promise<R>((resolve, reject) => {
      const batch = this.open.get(key) ?? this.openBatch(key);
      const onAbort = (): void => {
        if (entry.settled) return;
        entry.settled = true;
        if (batch.sent === undefined) this.leave(key, batch, entry);
        reject(abortReason(signal));
      };
      const entry: Entry<I, R> = {
        items, settled: false,
        resolve: (r) => { entry.detach(); if (!entry.settled) { entry.settled = true; resolve(r); } },
        reject: (e) => { entry.detach(); if (!entry.settled) { entry.settled = true; reject(e); } },
        detach: () => signal.removeEventListener('abort', onAbort),
      };
      signal.addEventListener('abort', onAbort, { once: true });
      batch.entries.push(entry);
      for (const item of items) batch.keys.add(this.config.itemKey(item));
      if (batch.keys.size >= this.config.maxItems) {
        // Full: nobody else joins it; start it now if its window is still running.
        if (this.open.get(key) === batch) this.open.delete(key);
        this.start(key, batch);
      }
    });
  }

  /** Batches not sent yet (for tests and shutdown checks). */
  get openBatches(): number {
    return this.open.size;
  }

  private openBatch(key: string): Batch<I, R> {
    const batch: Batch<I, R> = {
      entries: [], keys: new Set(), started: false, sent: undefined,
      timer: setTimeout(() => this.start(key, batch), this.config.windowMs),
    };
    this.open.set(key, batch);
    return batch;
  }

  private leave(key: string, batch: Batch<I, R>, entry: Entry<I, R>): void {
    const i = batch.entries.indexOf(entry);
    if (i >= 0) batch.entries.splice(i, 1);
    if (batch.entries.length === 0 && !batch.started) {
      clearTimeout(batch.timer);
      if (this.open.get(key) === batch) this.open.delete(key);
    }
  }

  private start(key: string, batch: Batch<I, R>): void {
    if (batch.started) return;
    batch.started = true;
    clearTimeout(batch.timer);
    const items = (): readonly I[] => {
      if (batch.sent === undefined) {
        if (this.open.get(key) === batch) this.open.delete(key);
        if (batch.entries.length === 0) throw new Error('every caller left the batch before it was sent');
        const unique = new Map<string, I>();
        for (const entry of batch.entries) for (const item of entry.items) unique.set(this.config.itemKey(item), item);
        batch.sent = [...unique.values()];
      }
      return batch.sent;
    };
    const settle = (outcome: (entry: Entry<I, R>) => void): void => {
      // Nobody joins once the call is over, whether or not it read its items.
      if (this.open.get(key) === batch) this.open.delete(key);
      batch.sent ??= [];
      for (const entry of [...batch.entries]) outcome(entry);
    };
    withTimeout([], this.config.callTimeoutMs, (signal) => this.call(key, items, signal)).then(
      (r) => settle((entry) => entry.resolve(r)),
      (e: unknown) => settle((entry) => entry.reject(e)),
    );
  }
}
