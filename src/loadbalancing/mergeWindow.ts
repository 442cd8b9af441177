import { abortReason, withTimeout } from '../lifecycle/sleep.js';

/** One merged call: every item submitted for `key` within the window, de-duplicated. */
export type MergedCall<I, R> = (key: string, items: readonly I[], signal: AbortSignal) => Promise<R>;

export interface MergeWindowConfig<I> {
  /** How long the first submission for a key waits for others to join it. */
  readonly windowMs: number;
  /** A batch is sent at once when it reaches this many distinct items. */
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
}

/**
 * Merges submissions for the same key (a target group, a load balancer) that arrive within a short window into one
 * call. State is a map of open batches owned by this object alone; every caller gets its own promise, settled
 * exactly once with the batch's result or error — nothing is shared that could block or drop a caller. A caller
 * whose signal aborts before the batch is sent leaves it (its items are not sent unless another caller also
 * submitted them); after that it merely stops waiting.
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
        if (this.open.get(key) === batch) this.leave(key, batch, entry);
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
      if (batch.keys.size >= this.config.maxItems) this.flush(key);
    });
  }

  /** Batches waiting for their window to close (for tests and shutdown checks). */
  get openBatches(): number {
    return this.open.size;
  }

  private openBatch(key: string): Batch<I, R> {
    const batch: Batch<I, R> = { entries: [], keys: new Set(), timer: setTimeout(() => this.flush(key), this.config.windowMs) };
    this.open.set(key, batch);
    return batch;
  }

  private leave(key: string, batch: Batch<I, R>, entry: Entry<I, R>): void {
    const i = batch.entries.indexOf(entry);
    if (i >= 0) batch.entries.splice(i, 1);
    if (batch.entries.length === 0) {
      clearTimeout(batch.timer);
      this.open.delete(key);
    }
  }

  private flush(key: string): void {
    const batch = this.open.get(key);
    if (!batch) return;
    clearTimeout(batch.timer);
    this.open.delete(key);
    const entries = [...batch.entries];
    const unique = new Map<string, I>();
    for (const entry of entries) for (const item of entry.items) unique.set(this.config.itemKey(item), item);
    const items = [...unique.values()];
    withTimeout([], this.config.callTimeoutMs, (signal) => this.call(key, items, signal)).then(
      (r) => { for (const entry of entries) entry.resolve(r); },
      (e: unknown) => { for (const entry of entries) entry.reject(e); },
    );
  }
}
