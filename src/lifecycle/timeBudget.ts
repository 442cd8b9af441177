/**
 * How an action's time is shared between its steps. Every term is a flag (or a constant below); serve checks at
 * startup that the whole budget fits --max-time-to-process, doctor that it fits each hook's global timeout, and the
 * workflow gives each step its share of what is left of the action's deadline, so a slow step (a load balancer
 * with a 3600 s deregistration delay, an instance that never joins) cannot eat the drain's time.
 */

/** The flags that bound how long one termination can take. */
export interface TimeBudgetSettings {
  readonly nodeJoinTimeoutSeconds: number;
  /** 0 when --with-deregister=false. */
  readonly deregistrationTimeoutSeconds: number;
  readonly drainTimeoutSeconds: number;
  readonly drainRetries: number;
  readonly drainIntervalSeconds: number;
  readonly maxTerminationGracePeriodSeconds: number;
  /** 0: the drained node's volumes are not waited for. */
  readonly volumeDetachTimeoutSeconds: number;
}

/** Escalation waits this long past the largest grace period it used (upstream's slack). */
export const ESCALATION_SLACK_SECONDS = 30;
/** Kept free at the end of the deadline for deleting the Node (a few retried API calls). */
export const DELETE_NODE_RESERVE_SECONDS = 15;
/** Kept free at the end of the deadline for CompleteLifecycleAction (retried through throttling). */
export const COMPLETION_RESERVE_SECONDS = 30;
/** CompleteLifecycleAction may still be tried this long after the deadline (our cap may be earlier than AWS's). */
export const COMPLETION_GRACE_SECONDS = 60;
/** A deregistration step gets at least this long (or --deregistration-timeout, if less) to send its DeregisterTargets calls. */
export const MIN_DEREGISTRATION_SECONDS = 5;
/** AWS ends a lifecycle action after min(48 h, 100 × HeartbeatTimeout) whatever the heartbeats. */
export const MAX_GLOBAL_TIMEOUT_SECONDS = 48 * 3600;

/**
 * The longest a drain can take: every attempt timing out, the intervals between attempts, then the graceful
 * force-delete window.
 */
export function drainBudgetSeconds(s: TimeBudgetSettings): number {
  if (s.drainTimeoutSeconds === 0) return 0;
  const attempts = s.drainRetries * s.drainTimeoutSeconds + Math.max(0, s.drainRetries - 1) * s.drainIntervalSeconds;
  return attempts + (s.maxTerminationGracePeriodSeconds > 0 ? s.maxTerminationGracePeriodSeconds + ESCALATION_SLACK_SECONDS : 0);
}

export interface BudgetTerm {
  readonly what: string;
  readonly seconds: number;
}

/** Every term of the longest termination, in the order the steps run. */
export function budgetTerms(s: TimeBudgetSettings): BudgetTerm[] {
  const drain = s.drainTimeoutSeconds === 0 ? [] : [
    { what: `${s.drainRetries}×${s.drainTimeoutSeconds}s drain attempts (--drain-retries × --drain-timeout)`, seconds: s.drainRetries * s.drainTimeoutSeconds },
    { what: `${Math.max(0, s.drainRetries - 1)}×${s.drainIntervalSeconds}s between attempts (--drain-interval)`, seconds: Math.max(0, s.drainRetries - 1) * s.drainIntervalSeconds },
    ...(s.maxTerminationGracePeriodSeconds > 0
      ? [{ what: `${s.maxTerminationGracePeriodSeconds}s+${ESCALATION_SLACK_SECONDS}s escalation (--max-termination-grace-period)`, seconds: s.maxTerminationGracePeriodSeconds + ESCALATION_SLACK_SECONDS }]
      : []),
  ];
  return [
    { what: `${s.nodeJoinTimeoutSeconds}s for a late Node (--node-join-timeout)`, seconds: s.nodeJoinTimeoutSeconds },
    ...(s.deregistrationTimeoutSeconds > 0 ? [{ what: `${s.deregistrationTimeoutSeconds}s load-balancer wait (--deregistration-timeout)`, seconds: s.deregistrationTimeoutSeconds }] : []),
    ...drain,
    ...(s.volumeDetachTimeoutSeconds > 0 ? [{ what: `${s.volumeDetachTimeoutSeconds}s for volumes to detach (--volume-detach-timeout)`, seconds: s.volumeDetachTimeoutSeconds }] : []),
    { what: `${DELETE_NODE_RESERVE_SECONDS + COMPLETION_RESERVE_SECONDS}s to delete the Node and complete`, seconds: DELETE_NODE_RESERVE_SECONDS + COMPLETION_RESERVE_SECONDS },
  ].filter((t) => t.seconds > 0);
}

/** The longest one termination can take when every step uses all of its share. */
export function totalBudgetSeconds(s: TimeBudgetSettings): number {
  return budgetTerms(s).reduce((sum, t) => sum + t.seconds, 0);
}

/** "2670s (120s for a late Node, …)". */
export function describeBudget(s: TimeBudgetSettings): string {
  return `${totalBudgetSeconds(s)}s (${budgetTerms(s).map((t) => t.what).join(' + ')})`;
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
