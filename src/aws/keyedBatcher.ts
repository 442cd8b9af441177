import { abortReason, withTimeout } from '../lifecycle/sleep.js';

type Fetch<K, V> = (keys: readonly K[], signal: AbortSignal) => Promise<Map<K, V>>;

interface Waiter<V> {
  resolve: (v: V | undefined) => void;
  reject: (e: unknown) => void;
}

/**
 * Merges lookups that arrive within `windowMs` into one call of at most `maxKeys` keys. Each caller gets its own
 * answer or its own error; an aborted caller stops waiting without affecting the others.
 */
export class KeyedBatcher<K, V> {
  private queued = new Map<K, Waiter<V>[]>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly maxKeys: number, private readonly windowMs: number, private readonly fetch: Fetch<K, V>) {}

  get(key: K, signal: AbortSignal): Promise<V | undefined> {
    if (signal.aborted) return Promise.reject(abortReason(signal));
    return new Promise<V | undefined>((resolve, reject) => {
      const onAbort = (): void => reject(abortReason(signal));
      signal.addEventListener('abort', onAbort, { once: true });
      const waiter: Waiter<V> = {
        resolve: (v) => { signal.removeEventListener('abort', onAbort); resolve(v); },
        reject: (e) => { signal.removeEventListener('abort', onAbort); reject(e); },
      };
      const list = this.queued.get(key) ?? [];
      list.push(waiter);
      this.queued.set(key, list);
      if (this.queued.size >= this.maxKeys) this.flush();
      else this.timer ??= setTimeout(() => this.flush(), this.windowMs);
    });
  }

  private flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.queued;
    this.queued = new Map();
    if (batch.size === 0) return;
    const keys = [...batch.keys()];
    // The shared call is not tied to any one caller's signal; each caller can still stop waiting on its own.
    withTimeout([], 60_000, (signal) => this.fetch(keys, signal)).then(
      (found) => { for (const [k, ws] of batch) for (const w of ws) w.resolve(found.get(k)); },
      (e: unknown) => { for (const ws of batch.values()) for (const w of ws) w.reject(e); },
    );
  }
}
