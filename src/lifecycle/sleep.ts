/** Abortable waiting and retry schedules. Every wait in the service goes through here. */

/** Resolves after `ms`, or rejects with the signal's reason when it aborts first. Clears its timer either way. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.reject(abortReason(signal));
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(abortReason(signal!));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, Math.max(0, ms));
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

export function abortReason(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  if (reason instanceof Error) return reason;
  const e = new Error(typeof reason === 'string' ? reason : 'aborted');
  e.name = 'AbortError';
  return e;
}

/** Exponential backoff with full jitter between `minMs` and the capped exponential value. */
export interface Backoff {
  readonly minMs: number;
  readonly maxMs: number;
}

export function backoffDelayMs(attempt: number, { minMs, maxMs }: Backoff, random: () => number = Math.random): number {
  const capped = Math.min(maxMs, minMs * 2 ** Math.max(0, attempt - 1));
  return minMs + random() * (capped - minMs);
}

/** An AbortSignal that fires at the earliest of the given signals and an absolute deadline (epoch ms). */
export function signalUntil(deadlineMs: number, ...signals: AbortSignal[]): { signal: AbortSignal; dispose: () => void } {
  const controller = new AbortController();
  const timer = setTimeout(() => {
    const e = new Error('deadline reached');
    e.name = 'TimeoutError';
    controller.abort(e);
  }, Math.max(0, deadlineMs - Date.now()));
  const signal = AbortSignal.any([controller.signal, ...signals]);
  return { signal, dispose: () => clearTimeout(timer) };
}
