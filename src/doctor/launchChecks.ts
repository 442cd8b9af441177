/**
 * With serve --launch-hooks: each enrolled group's launch hook. It must exist, be an EC2_INSTANCE_LAUNCHING hook
 * notifying the queue, keep the action longer than serve waits for a Node (--launch-timeout plus the completion),
 * and default to CONTINUE: with ABANDON, every launch while serve is down would be terminated.
 */
import { LAUNCHING_TRANSITION, arnName } from '../enrollment/desired.js';
import { COMPLETION_RESERVE_SECONDS } from '../lifecycle/timeBudget.js';
import type { CheckResult, FixSettings, enrollCommand as EnrollCommand } from './checks.js';
import type { DoctorFacts, GroupHook } from './facts.js';

type Enroll = typeof EnrollCommand;

export function launchHookChecks(settings: FixSettings, facts: DoctorFacts, enroll: Enroll): CheckResult[] {
  const launch = settings.launch;
  const hooks = facts.launchHooks;
  if (!launch || !hooks) return [];
  if (hooks.kind === 'failed') {
    return [{ status: 'fail', check: 'launch hooks', detail: `cannot list them: ${hooks.detail}`, fix: 'check --region and the credentials (autoscaling:DescribeLifecycleHooks)' }];
  }
  return hooks.groups.flatMap((g) => checksFor(settings, launch, g, enroll));
}

function checksFor(settings: FixSettings, launch: NonNullable<FixSettings['launch']>, { autoScalingGroupName: group, hook }: GroupHook, enroll: Enroll): CheckResult[] {
  const name = `launch hook on '${group}'`;
  const repair = (heartbeatTimeoutSeconds?: number): string => enroll(settings, { groups: [group], overwrite: true, ...(heartbeatTimeoutSeconds ? { heartbeatTimeoutSeconds } : {}) });
  if (!hook) return [{ status: 'fail', check: name, detail: `no lifecycle hook '${launch.hookName}': serve --launch-hooks never sees this group's launches`, fix: enroll(settings, { groups: [group] }) }];
  const target = arnName(hook.notificationTargetArn);
  if (hook.lifecycleTransition !== LAUNCHING_TRANSITION || target !== settings.queueName) {
    const what = hook.lifecycleTransition !== LAUNCHING_TRANSITION ? `is for ${hook.lifecycleTransition}` : `notifies '${target ?? 'nothing'}', not '${settings.queueName}'`;
    return [{ status: 'fail', check: name, detail: `'${launch.hookName}' ${what}`, fix: repair(hook.heartbeatTimeoutSeconds) }];
  }
  const rows: CheckResult[] = [{ status: 'pass', check: name, detail: `'${launch.hookName}' notifies '${settings.queueName}' on launch` }];
  const needed = launch.timeoutSeconds + COMPLETION_RESERVE_SECONDS;
  const timeoutName = `launch hook timeout on '${group}'`;
  rows.push(hook.globalTimeoutSeconds >= needed
    ? { status: 'pass', check: timeoutName, detail: `AWS keeps a launch up to ${hook.globalTimeoutSeconds}s; serve waits ${launch.timeoutSeconds}s (--launch-timeout) for its Node` }
    : { status: 'fail', check: timeoutName, detail: `AWS ends a launch after ${hook.globalTimeoutSeconds}s (applying ${hook.defaultResult}), before --launch-timeout ${launch.timeoutSeconds}s plus ${COMPLETION_RESERVE_SECONDS}s to complete`,
      fix: `lower serve's --launch-timeout below ${Math.max(1, hook.globalTimeoutSeconds - COMPLETION_RESERVE_SECONDS)}s, or raise the hook's HeartbeatTimeout (${repair(Math.min(7200, Math.ceil(needed / 100)))})` });
  const resultName = `launch default result on '${group}'`;
  rows.push(hook.defaultResult === 'CONTINUE'
    ? { status: 'pass', check: resultName, detail: 'CONTINUE: launches go on as if no hook were there when serve is down' }
    : { status: 'fail', check: resultName, detail: 'ABANDON: while serve is down (or cannot heartbeat) every launch of the group is terminated', fix: repair(hook.heartbeatTimeoutSeconds) });
  return rows;
}
