/** The serve flags that bound how long one termination can take, and the arithmetic over them. */
export interface DrainSettings {
  readonly drainTimeoutSeconds: number;
  readonly drainRetries: number;
  readonly drainIntervalSeconds: number;
  readonly maxTerminationGracePeriodSeconds: number;
  readonly maxTimeToProcessSeconds: number;
}

/** Escalation waits this long past the grace period it used (upstream's slack, as serve's drainer does). */
export const ESCALATION_SLACK_SECONDS = 30;
/** AWS ends a lifecycle action after min(48 h, 100 × HeartbeatTimeout) whatever the heartbeats. */
export const MAX_GLOBAL_TIMEOUT_SECONDS = 48 * 3600;

/**
 * The longest a drain can take: every attempt timing out, the intervals between attempts, then the graceful
 * force-delete window. Load-balancer deregistration comes on top and depends on the target groups.
 */
export function drainBudgetSeconds(s: DrainSettings): number {
  if (s.drainTimeoutSeconds === 0) return 0;
  const attempts = s.drainRetries * s.drainTimeoutSeconds + Math.max(0, s.drainRetries - 1) * s.drainIntervalSeconds;
  return attempts + (s.maxTerminationGracePeriodSeconds > 0 ? s.maxTerminationGracePeriodSeconds + ESCALATION_SLACK_SECONDS : 0);
}

/** How long AWS keeps an action open when heartbeats keep coming. */
export function globalTimeoutSeconds(heartbeatTimeoutSeconds: number): number {
  return Math.min(MAX_GLOBAL_TIMEOUT_SECONDS, 100 * heartbeatTimeoutSeconds);
}

/** The smallest valid HeartbeatTimeout whose global timeout covers `budgetSeconds`; undefined when none can. */
export function heartbeatTimeoutFor(budgetSeconds: number): number | undefined {
  if (budgetSeconds > MAX_GLOBAL_TIMEOUT_SECONDS) return undefined;
  return Math.min(7200, Math.max(30, Math.ceil(budgetSeconds / 100)));
}
