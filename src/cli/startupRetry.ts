/**
 * A startup check that meets a transient failure (a timeout, a 5xx, throttling, a refused connection) tries again for
 * a few seconds before it becomes the one-line startup failure: an endpoint that is slow for a moment, or a node
 * whose network is still coming up, must not crash-loop the pod. A permanent answer (no such queue, access denied)
 * fails at once.
 */
import { describeError, isTransient } from '../lifecycle/errors.js';
import { sleep } from '../lifecycle/sleep.js';
import type { Logger } from '../observability/logger.js';

/** How long transient failures of one startup check are tried again. */
export const STARTUP_RETRY_MS = 15_000;

export async function retriedAtStartup<T>(what: string, call: () => Promise<T>, log: Logger, signal: AbortSignal, retryForMs = STARTUP_RETRY_MS): Promise<T> {
  const startedAtMs = Date.now();
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (e) {
      const delayMs = Math.min(500 * 2 ** (attempt - 1), 4_000);
      if (!isTransient(e) || signal.aborted || Date.now() - startedAtMs + delayMs > retryForMs) throw e;
      log.warn(`${what}: ${describeError(e)}; trying again in ${delayMs / 1000}s`, { error: e });
      await sleep(delayMs, signal);
    }
  }
}
