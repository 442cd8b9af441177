import type { Logger } from '../observability/logger.js';
import type { ActionRegistry } from './actionRegistry.js';
import { describeError } from './errors.js';
import type { ActionRecord, ActionStore } from './ports.js';
import { sleep } from './sleep.js';

/**
 * Finds actions whose owner is no longer alive — its replica Lease (or, for a record of an older release, the
 * action's own Lease) was not renewed within the action's lease duration: a crashed or stopped replica, or this
 * replica before a restart — and resumes them here: at start-up, then every 5 s at most. Fail-over therefore takes at
 * most about an action's lease duration plus 5 s: min(--lease-duration, HeartbeatTimeout/3) + 5 s, inside the hook's
 * HeartbeatTimeout. Resumed actions are
 * awaited before it returns, so shutdown leaves them at a safe point.
 */
export async function resumeOrphanedActions(options: {
  readonly store: ActionStore;
  readonly registry: ActionRegistry;
  readonly resume: (record: ActionRecord) => Promise<void>;
  readonly log: Logger;
  readonly signal: AbortSignal;
}): Promise<void> {
  const { store, registry, log, signal } = options;
  const resumed = new Set<Promise<void>>();
  // Leases of hooks with short HeartbeatTimeouts are short too: look often enough for the shortest (5 s).
  const everyMs = (Math.min(store.leaseDurationSeconds, 10) * 1000) / 2;
  while (!signal.aborted) {
    try {
      for (const record of await store.listOrphans(signal)) {
        if (registry.has(record.action) || signal.aborted) continue;
        log.info(`${record.action.instanceId}> found event ${record.action.requestId} in phase ${record.phase} ${record.holder ? `held by ${record.holder}, who stopped renewing it` : 'handed over'}; resuming it`);
        const p: Promise<void> = options.resume(record)
          .catch((e: unknown) => log.error(`${record.action.instanceId}> resuming failed: ${describeError(e)}`, { error: e, instanceId: record.action.instanceId }))
          .finally(() => resumed.delete(p));
        resumed.add(p);
      }
    } catch (e) {
      if (!signal.aborted) log.warn(`could not look for orphaned actions (will retry): ${describeError(e)}`, { error: e });
    }
    await sleep(everyMs, signal).catch(() => undefined);
  }
  await Promise.allSettled([...resumed]);
}
