import { type LifecycleAction, type LifecycleHook, TERMINATING_TRANSITION, TERMINATION_WAIT_STATES } from './action.js';
import type { AutoScalingPort } from './ports.js';
import { MAX_GLOBAL_TIMEOUT_SECONDS } from './timeBudget.js';

/** Why a message is dropped without touching the node. Each is a label value of the messages metric. */
export type DropReason = 'hook_not_found' | 'not_a_termination_hook' | 'instance_not_in_group' | 'instance_not_terminating' | 'expired';

export type Verdict =
  | { readonly kind: 'verified'; readonly hook: LifecycleHook; readonly lifecycleState: string | undefined }
  | { readonly kind: 'drop'; readonly reason: DropReason; readonly detail: string };

/**
 * Checks a lifecycle action against AWS before any node is touched: the hook must exist on that group as a
 * termination hook and, when `checkInstanceState`, DescribeAutoScalingInstances must show the instance in that group
 * in one of the wait states of a termination hook (Terminating:Wait; Warmed:Terminating:Wait for an instance
 * terminated from a warm pool; Warmed:Pending:Wait for one returning to the warm pool on scale-in). A message older
 * than the hook's global timeout (or than 48 h, the longest any action lives) describes an action AWS has ended.
 * Errors reaching AWS are thrown, for the caller to retry.
 */
export async function verifyAction(
  action: LifecycleAction,
  autoScaling: AutoScalingPort,
  options: { checkInstanceState: boolean; nowMs: number; sentAtMs: number | undefined },
  signal: AbortSignal,
): Promise<Verdict> {
  const bornAtMs = action.messageTime?.getTime() ?? options.sentAtMs;
  if (bornAtMs !== undefined && bornAtMs + MAX_GLOBAL_TIMEOUT_SECONDS * 1000 < options.nowMs) {
    return { kind: 'drop', reason: 'expired', detail: `message from ${new Date(bornAtMs).toISOString()} is older than 48h, the longest a lifecycle action can wait` };
  }
  const hook = await autoScaling.describeLifecycleHook(action.autoScalingGroupName, action.lifecycleHookName, signal);
  if (!hook) {
    return { kind: 'drop', reason: 'hook_not_found', detail: `could not find lifecycle hook with name ${action.lifecycleHookName} for scaling group ${action.autoScalingGroupName}` };
  }
  if (hook.lifecycleTransition !== TERMINATING_TRANSITION) {
    return { kind: 'drop', reason: 'not_a_termination_hook', detail: `hook ${hook.lifecycleHookName} is for ${hook.lifecycleTransition}` };
  }
  if (action.messageTime && action.messageTime.getTime() + hook.globalTimeoutSeconds * 1000 < options.nowMs) {
    return { kind: 'drop', reason: 'expired', detail: `message from ${action.messageTime.toISOString()} is older than the hook's global timeout of ${hook.globalTimeoutSeconds}s` };
  }
  if (options.checkInstanceState) {
    const instance = await autoScaling.describeInstance(action.instanceId, signal);
    if (!instance || instance.autoScalingGroupName !== action.autoScalingGroupName) {
      return { kind: 'drop', reason: 'instance_not_in_group', detail: `instance ${action.instanceId} is not in Auto Scaling group ${action.autoScalingGroupName}${instance ? ` (it is in ${instance.autoScalingGroupName})` : ''}` };
    }
    if (!TERMINATION_WAIT_STATES.includes(instance.lifecycleState)) {
      return { kind: 'drop', reason: 'instance_not_terminating', detail: `instance ${action.instanceId} is ${instance.lifecycleState}, not ${TERMINATION_WAIT_STATES.join(' or ')}` };
    }
    return { kind: 'verified', hook, lifecycleState: instance.lifecycleState };
  }
  return { kind: 'verified', hook, lifecycleState: undefined };
}

/** When AWS gives up on the action, capped by --max-time-to-process from receipt (epoch ms). */
export function actionDeadlineMs(action: LifecycleAction, hook: LifecycleHook, receivedAtMs: number, maxTimeToProcessSeconds: number): number {
  const startedAtMs = action.messageTime?.getTime() ?? receivedAtMs;
  return Math.min(startedAtMs + hook.globalTimeoutSeconds * 1000, receivedAtMs + maxTimeToProcessSeconds * 1000);
}
