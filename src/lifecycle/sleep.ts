import { setMaxListeners } from 'node:events';

/** Abortable waiting and retry schedules. Every wait in the service goes through here. */

/**
 * The longest delay a Node.js timer takes (2^31 − 1 ms, about 24.8 days): a longer one fires at once. Waits longer
 * than this are made of several timers.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** A timer that fires after `ms` even when that is longer than one Node.js timer can wait. */
function longTimeout(ms: number, fire: () => void): { clear: () => void } {
  let timer: NodeJS.Timeout;
  const arm = (left: number): void => {
    timer = setTimeout(() => (left > MAX_TIMER_MS ? arm(left - MAX_TIMER_MS) : fire()), Math.min(Math.max(0, left), MAX_TIMER_MS));
  };
  arm(ms);
  return { clear: () => clearTimeout(timer) };
}

/** Resolves after `ms`, or rejects with the signal's reason when it aborts first. Clears its timer either way. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.reject(abortReason(signal));
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      timer.clear();
      reject(abortReason(signal!));
    };
    const timer = longTimeout(ms, () => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    });
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

/**
 * A signal that aborts when any parent aborts or after `timeoutMs` (TimeoutError). Built from a plain
 * AbortController and timer rather than AbortSignal.any/AbortSignal.timeout, whose signals Node 20 may
 * garbage-collect before they fire (a wait that never ends). Call dispose() when done with it.
 */
export function linkedSignal(parents: readonly AbortSignal[], timeoutMs?: number): { signal: AbortSignal; dispose: () => void } {
  const controller = new AbortController();
  // An action's signal has a listener per concurrent wait (heartbeat, ownership, drain, …): not a leak.
  setMaxListeners(0, controller.signal);
  const onParentAbort = (event: Event): void => controller.abort((event.target as AbortSignal).reason);
  const timer = timeoutMs === undefined ? undefined : longTimeout(timeoutMs, () => {
    const e = new Error(`timed out after ${Math.round(timeoutMs)}ms`);
    e.name = 'TimeoutError';
    controller.abort(e);
  });
  const dispose = (): void => {
    timer?.clear();
    for (const p of parents) p.removeEventListener('abort', onParentAbort);
  };
  for (const p of parents) {
    if (p.aborted) {
      controller.abort(p.reason);
      break;
    }
    p.addEventListener('abort', onParentAbort, { once: true });
  }
  controller.signal.addEventListener('abort', dispose, { once: true });
  return { signal: controller.signal, dispose };
}

/** Runs `work` with a signal linked to `parents` and limited to `timeoutMs`; cleans up afterwards. */
export async function withTimeout<T>(parents: readonly AbortSignal[], timeoutMs: number, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const { signal, dispose } = linkedSignal(parents, timeoutMs);
  try {
    return await work(signal);
  } finally {
    dispose();
  }
}

/** A signal that aborts at an absolute deadline (epoch ms) or when any parent aborts. */
export function signalUntil(deadlineMs: number, ...signals: AbortSignal[]): { signal: AbortSignal; dispose: () => void } {
  return linkedSignal(signals, deadlineMs - Date.now());
}

/** Waits for `promise`, or rejects with the signal's reason as soon as it aborts (the promise keeps running). */
export function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(abortReason(signal));
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(abortReason(signal));
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (v) => { signal.removeEventListener('abort', onAbort); resolve(v); },
      (e: unknown) => { signal.removeEventListener('abort', onAbort); reject(e); },
    );
  });
}
