import {
  LAUNCHING_TRANSITION, LAUNCH_WAIT_STATES, type LifecycleAction, type LifecycleHook, TERMINATING_TRANSITION, TERMINATION_WAIT_STATES,
} from './action.js';
import type { AutoScalingPort } from './ports.js';
import { MAX_GLOBAL_TIMEOUT_SECONDS } from './timeBudget.js';

/** Why a message is dropped without touching the node. Each is a label value of the messages metric. */
export type DropReason = 'hook_not_found' | 'not_a_termination_hook' | 'not_a_launch_hook' | 'instance_not_in_group' | 'instance_not_terminating' | 'instance_not_launching' | 'expired';

/** What a termination and a launch are checked against. */
const EXPECTED = {
  termination: { transition: TERMINATING_TRANSITION, waitStates: TERMINATION_WAIT_STATES, wrongHook: 'not_a_termination_hook', wrongState: 'instance_not_terminating' },
  launch: { transition: LAUNCHING_TRANSITION, waitStates: LAUNCH_WAIT_STATES, wrongHook: 'not_a_launch_hook', wrongState: 'instance_not_launching' },
} as const;

export type Verdict =
  | { readonly kind: 'verified'; readonly hook: LifecycleHook; readonly lifecycleState: string | undefined }
  | { readonly kind: 'drop'; readonly reason: DropReason; readonly detail: string };

/**
 * Checks a lifecycle action against AWS before any node is touched: the hook must exist on that group as a
 * termination hook and, when `checkInstanceState`, DescribeAutoScalingInstances must show the instance in that group
 * in one of the wait states of a termination hook (Terminating:Wait; Warmed:Terminating:Wait for an instance
 * terminated from a warm pool; Warmed:Pending:Wait for one returning to the warm pool on scale-in). A launch action
 * (--launch-hooks) is checked the same way against a launch hook and its wait states: Pending:Wait, or
 * Warmed:Pending:Wait for a launch into a warm pool. A message older
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
  const expected = action.launch ? EXPECTED.launch : EXPECTED.termination;
  const hook = await autoScaling.describeLifecycleHook(action.autoScalingGroupName, action.lifecycleHookName, signal);
  if (!hook) {
    return { kind: 'drop', reason: 'hook_not_found', detail: `could not find lifecycle hook with name ${action.lifecycleHookName} for scaling group ${action.autoScalingGroupName}` };
  }
  if (hook.lifecycleTransition !== expected.transition) {
    return { kind: 'drop', reason: expected.wrongHook, detail: `hook ${hook.lifecycleHookName} is for ${hook.lifecycleTransition}` };
  }
  if (action.messageTime && action.messageTime.getTime() + hook.globalTimeoutSeconds * 1000 < options.nowMs) {
    return { kind: 'drop', reason: 'expired', detail: `message from ${action.messageTime.toISOString()} is older than the hook's global timeout of ${hook.globalTimeoutSeconds}s` };
  }
  if (options.checkInstanceState) {
    const instance = await autoScaling.describeInstance(action.instanceId, signal);
    if (!instance || instance.autoScalingGroupName !== action.autoScalingGroupName) {
      return { kind: 'drop', reason: 'instance_not_in_group', detail: `instance ${action.instanceId} is not in Auto Scaling group ${action.autoScalingGroupName}${instance ? ` (it is in ${instance.autoScalingGroupName})` : ''}` };
    }
    if (!expected.waitStates.includes(instance.lifecycleState)) {
      return { kind: 'drop', reason: expected.wrongState, detail: `instance ${action.instanceId} is ${instance.lifecycleState}, not ${expected.waitStates.join(' or ')}` };
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
