/**
 * Undoes an enrollment: removes the hook from the named groups and, only when asked, deletes the queue (with its
 * dead-letter queue) and the notification role. Idempotent: what is already gone is reported, not an error.
 */
import type { Logger } from '../observability/logger.js';
import { attempt } from './attempt.js';
import { MANAGED_BY_TAG, arnName, deadLetterQueueName, notificationPolicyArn, parseRedrivePolicy } from './desired.js';
import type { AwsAdmin, QueueState } from './ports.js';
import type { UnenrollSettings } from './unenrollSettings.js';

export interface UnenrollResult {
  readonly removedHooks: readonly string[];
  readonly deletedQueues: readonly string[];
  readonly deletedRole: boolean;
}

export async function runUnenroll(settings: UnenrollSettings, aws: AwsAdmin, log: Logger, signal: AbortSignal): Promise<UnenrollResult> {
  const deleting = settings.dryRun ? 'would delete' : 'deleting';
  const removedHooks: string[] = [];
  const existing = settings.groupNames.length > 0
    ? await attempt('failed to describe Auto Scaling groups', () => aws.hooks.existingGroups(settings.groupNames, signal))
    : new Set<string>();
  for (const group of settings.groupNames) {
    if (!existing.has(group)) {
      log.info(`Auto Scaling group '${group}' not found; nothing to remove`);
      continue;
    }
    // The termination hook, then the launch hook (enroll --launch-hook), which is left silently when absent: a launch
    // hook whose queue is deleted would hold every launch until its HeartbeatTimeout.
    for (const hookName of [settings.hookName, settings.launchHookName]) {
      const [hook] = await attempt('failed to describe lifecycle hooks', () => aws.hooks.describeHooks(group, hookName, signal));
      if (!hook) {
        if (hookName === settings.hookName) log.info(`no lifecycle hook '${hookName}' on '${group}'; nothing to remove`);
        continue;
      }
      const target = arnName(hook.notificationTargetArn);
      if (settings.queueName && target !== settings.queueName) {
        log.warn(`lifecycle hook '${hookName}' on '${group}' notifies '${target ?? 'nothing'}', not '${settings.queueName}'; left in place`);
        continue;
      }
      log.info(`${deleting} lifecycle hook '${hookName}' from '${group}'`);
      if (!settings.dryRun) await attempt('failed to delete lifecycle hook', () => aws.hooks.deleteHook(group, hookName, signal));
      if (!removedHooks.includes(group)) removedHooks.push(group);
    }
  }

  const deletedQueues: string[] = [];
  if (settings.deleteQueue && settings.queueName) {
    const queue = await attempt('failed to look up SQS queue', () => aws.queues.getQueue(settings.queueName!, signal));
    const dlqName = deadLetterQueueName(settings.queueName);
    const dlq = await attempt('failed to look up SQS queue', () => aws.queues.getQueue(dlqName, signal));
    for (const [name, state] of [[settings.queueName, queue], [dlqName, dlq]] as const) {
      if (!state) {
        log.info(`SQS queue '${name}' not found; nothing to delete`);
        continue;
      }
      if (name === dlqName && !isOurDeadLetterQueue(state, queue)) {
        log.warn(`SQS queue '${name}' is neither the queue's dead-letter queue nor tagged ${MANAGED_BY_TAG.key}=${MANAGED_BY_TAG.value}; left in place`);
        continue;
      }
      log.info(`${deleting} SQS queue '${name}'`);
      if (!settings.dryRun) await attempt('failed to delete SQS queue', () => aws.queues.deleteQueue(state.url, signal));
      deletedQueues.push(name);
    }
  }

  let deletedRole = false;
  if (settings.deleteRole && settings.roleName) deletedRole = await removeRole(settings.roleName, settings, aws, log, signal);
  log.info(`${settings.dryRun ? 'dry run: would have unenrolled' : 'successfully unenrolled'} ${removedHooks.length} scaling groups`);
  return { removedHooks, deletedQueues, deletedRole };
}

function isOurDeadLetterQueue(dlq: QueueState, queue: QueueState | undefined): boolean {
  const redrive = parseRedrivePolicy(queue?.attributes['RedrivePolicy']);
  return redrive?.deadLetterTargetArn === dlq.arn || dlq.tags[MANAGED_BY_TAG.key] === MANAGED_BY_TAG.value;
}

async function removeRole(roleName: string, settings: UnenrollSettings, aws: AwsAdmin, log: Logger, signal: AbortSignal): Promise<boolean> {
  const role = await attempt('failed to look up notification role', () => aws.iam.getRole(roleName, signal));
  if (!role) {
    log.info(`notification role '${roleName}' not found; nothing to delete`);
    return false;
  }
  const policyArn = notificationPolicyArn(settings.region);
  const others = role.attachedPolicyArns.filter((a) => a !== policyArn);
  if (others.length > 0) {
    log.warn(`notification role '${roleName}' has other policies attached (${others.join(', ')}); left in place`);
    return false;
  }
  if (settings.dryRun) {
    log.info(`would delete notification role '${roleName}'`);
    return true;
  }
  if (role.attachedPolicyArns.includes(policyArn)) await attempt('failed to detach notification policy', () => aws.iam.detachPolicy(roleName, policyArn, signal));
  log.info(`deleting notification role '${roleName}'`);
  const outcome = await attempt('failed to delete notification role', () => aws.iam.deleteRole(roleName, signal));
  if (outcome === 'in-use') {
    log.warn(`notification role '${roleName}' is still in use (inline policies or instance profiles); left in place`);
    return false;
  }
  return outcome === 'deleted';
}
