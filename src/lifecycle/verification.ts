import { type LifecycleAction, type LifecycleHook, TERMINATING_TRANSITION, TERMINATING_WAIT_STATE } from './action.js';
import { isTransient } from './errors.js';
import type { AutoScalingPort } from './ports.js';

/** Why a message is dropped without touching the node. Each is a label value of the messages metric. */
export type DropReason = 'hook_not_found' | 'not_a_termination_hook' | 'instance_not_in_group' | 'instance_not_terminating' | 'expired';

export type Verdict =
  | { readonly kind: 'verified'; readonly hook: LifecycleHook }
  | { readonly kind: 'drop'; readonly reason: DropReason; readonly detail: string }
  | { readonly kind: 'retry-later'; readonly detail: string };

/**
 * Checks a lifecycle action against AWS before any node is touched: the hook must exist on that group as a
 * termination hook and, when `checkInstanceState`, DescribeAutoScalingInstances must show the instance in that group
 * in Terminating:Wait. A message older than the hook's global timeout describes an action AWS has already ended.
 */
export async function verifyAction(
  action: LifecycleAction,
  autoScaling: AutoScalingPort,
  options: { checkInstanceState: boolean; nowMs: number },
  signal: AbortSignal,
): Promise<Verdict> {
  try {
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
      if (instance.lifecycleState !== TERMINATING_WAIT_STATE) {
        return { kind: 'drop', reason: 'instance_not_terminating', detail: `instance ${action.instanceId} is ${instance.lifecycleState}, not ${TERMINATING_WAIT_STATE}` };
      }
    }
    return { kind: 'verified', hook };
  } catch (e) {
    if (isTransient(e)) return { kind: 'retry-later', detail: e.message };
    throw e;
  }
}

/** When AWS gives up on the action, capped by --max-time-to-process from receipt (epoch ms). */
export function actionDeadlineMs(action: LifecycleAction, hook: LifecycleHook, receivedAtMs: number, maxTimeToProcessSeconds: number): number {
  const startedAtMs = action.messageTime?.getTime() ?? receivedAtMs;
  return Math.min(startedAtMs + hook.globalTimeoutSeconds * 1000, receivedAtMs + maxTimeToProcessSeconds * 1000);
}
