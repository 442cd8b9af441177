/**
 * Carries out an enrollment plan: the notification role and its policy, the dead-letter queue, the queue, then the
 * hooks. Logs upstream's lines. A hook whose test notification fails right after the role was created or changed
 * is retried for a bounded time while IAM propagates the role.
 */
import { ConfigError } from '../lifecycle/errors.js';
import { type Backoff, backoffDelayMs, sleep } from '../lifecycle/sleep.js';
import type { Logger } from '../observability/logger.js';
import { attempt } from './attempt.js';
import {
  ROLE_DESCRIPTION, TERMINATING_TRANSITION, attributeDifferences, deadLetterQueueAttributes, queueAttributes, trustPolicy,
} from './desired.js';
import type { EnrollSettings } from './enrollSettings.js';
import type { EnrollPlan, HookStep, QueueStep } from './plan.js';
import type { AwsAdmin, PutHookRequest, QueueState } from './ports.js';

export interface ApplyOptions {
  /** How long PutLifecycleHook is retried while a new or changed role propagates. */
  readonly propagationTimeoutMs: number;
  readonly propagationBackoff: Backoff;
}

export const DEFAULT_APPLY_OPTIONS: ApplyOptions = { propagationTimeoutMs: 120_000, propagationBackoff: { minMs: 2_000, maxMs: 15_000 } };

export interface EnrollResult {
  readonly queueUrl: string;
  readonly queueArn: string;
  readonly deadLetterQueueUrl: string;
  /** Groups whose hook now notifies the queue on termination (created, updated, or already there). */
  readonly enrolledGroups: readonly string[];
  /** Resources left differing from the request because --overwrite was not given, in words. */
  readonly leftAsTheyAre: readonly string[];
}

export async function applyEnrollment(plan: EnrollPlan, settings: EnrollSettings, aws: AwsAdmin, log: Logger, signal: AbortSignal, options: ApplyOptions = DEFAULT_APPLY_OPTIONS): Promise<EnrollResult> {
  if (plan.problems.length > 0) throw new ConfigError(plan.problems);
  const created: string[] = [];
  const leftAsTheyAre: string[] = [];
  const step = <T>(what: string, fn: () => Promise<T>): Promise<T> =>
    attempt(what, fn, () => (created.length > 0 ? [`already created: ${created.join(', ')}; re-running enroll continues from there`] : []));

  // 1. The notification role Auto Scaling assumes to publish to the queue.
  const role = plan.role;
  let roleArn = role.arn ?? '';
  if (role.action === 'create') {
    log.info(`creating notification role '${role.name}'`);
    roleArn = await step('failed to create notification role', () => aws.iam.createRole({ name: role.name, description: ROLE_DESCRIPTION, trustPolicy: trustPolicy(), tags: role.tagsToSet }, signal));
    created.push(`IAM role '${role.name}'`);
  } else if (role.action === 'update') {
    log.info(`notification role '${role.name}' already exists, updating: ${role.changes.join('; ')}`);
    if (role.replaceTrustPolicy) await step('failed to update the notification role\'s trust policy', () => aws.iam.updateTrustPolicy(role.name, trustPolicy(), signal));
    if (Object.keys(role.tagsToSet).length > 0) await step('failed to tag notification role', () => aws.iam.tagRole(role.name, role.tagsToSet, signal));
  } else {
    reportExisting(log, leftAsTheyAre, role.action, `notification role '${role.name}'`, role.changes);
  }
  const policyArn = plan.policy.policyArn;
  if (plan.policy.action === 'create') {
    log.info(`attaching notification policy '${policyArn}'`);
    await step('failed to attach notification role', () => aws.iam.attachPolicy(role.name, policyArn, signal));
  } else {
    log.info(`notification policy '${policyArn}' already attached`);
  }
  if (role.action === 'create') log.info(`created notification role '${roleArn}'`);
  const roleIsFresh = role.action === 'create' || (role.action === 'update' && role.replaceTrustPolicy) || plan.policy.action === 'create';

  // 2. The dead-letter queue, then the queue whose redrive policy points at it.
  const dlq = await ensureQueue(plan.deadLetterQueue, () => deadLetterQueueAttributes(), aws, log, leftAsTheyAre, created, step, signal);
  const queue = await ensureQueue(plan.queue, () => queueAttributes(dlq.arn, plan.maxReceiveCount), aws, log, leftAsTheyAre, created, step, signal);

  // 3. One termination hook per group (and with --launch-hook one launch hook).
  const enrolledGroups: string[] = [];
  for (const hook of [...plan.hooks, ...plan.launchHooks]) {
    const termination = hook.lifecycleTransition === TERMINATING_TRANSITION;
    const which = termination ? 'lifecycle hook' : 'launch lifecycle hook';
    if (hook.action === 'keep' || hook.action === 'differs') {
      reportExisting(log, leftAsTheyAre, hook.action, `lifecycle hook '${hook.lifecycleHookName}' on '${hook.autoScalingGroupName}'`, hook.changes);
      if (hook.notifiesQueue && termination) enrolledGroups.push(hook.autoScalingGroupName);
      continue;
    }
    log.info(hook.action === 'create' ? `creating ${which} for '${hook.autoScalingGroupName}'` : `updating ${which} for '${hook.autoScalingGroupName}': ${hook.changes.join('; ')}`);
    const request: PutHookRequest = {
      autoScalingGroupName: hook.autoScalingGroupName, lifecycleHookName: hook.lifecycleHookName, lifecycleTransition: hook.lifecycleTransition,
      heartbeatTimeoutSeconds: settings.heartbeatTimeoutSeconds, defaultResult: hook.defaultResult,
      notificationTargetArn: queue.arn, roleArn,
    };
    await step('failed to put lifecycle hook', () => putHook(hook, request, roleIsFresh || plan.queue.action === 'create', aws, log, signal, options));
    if (termination) enrolledGroups.push(hook.autoScalingGroupName);
  }
  log.info(`successfully enrolled ${enrolledGroups.length} scaling groups`);
  if (leftAsTheyAre.length > 0) log.warn(`${leftAsTheyAre.length} existing resource(s) differ from this request and were left as they are; re-run with --overwrite to update them`);
  return { queueUrl: queue.url, queueArn: queue.arn, deadLetterQueueUrl: dlq.url, enrolledGroups, leftAsTheyAre };
}

type Step = <T>(what: string, fn: () => Promise<T>) => Promise<T>;

async function ensureQueue(
  plan: QueueStep, wantedAttributes: () => Record<string, string>, aws: AwsAdmin, log: Logger,
  leftAsTheyAre: string[], created: string[], step: Step, signal: AbortSignal,
): Promise<QueueState> {
  const existing = plan.existing;
  if (plan.action === 'create' || !existing) {
    log.info(`creating SQS queue '${plan.name}'`);
    const queue = await step('failed to create SQS queue', () => aws.queues.createQueue(plan.name, wantedAttributes(), plan.tagsToSet, signal));
    created.push(`SQS queue '${plan.name}'`);
    log.info(`created queue '${queue.arn}'`);
    return queue;
  }
  if (plan.action === 'update') {
    log.info(`SQS queue '${plan.name}' already exists, updating: ${plan.changes.join('; ')}`);
    const attributes = attributeDifferences(existing, wantedAttributes());
    if (Object.keys(attributes).length > 0) await step('failed to set SQS queue attributes', () => aws.queues.setAttributes(existing.url, attributes, signal));
    if (Object.keys(plan.tagsToSet).length > 0) await step('failed to tag SQS queue', () => aws.queues.tagQueue(existing.url, plan.tagsToSet, signal));
    return existing;
  }
  reportExisting(log, leftAsTheyAre, plan.action, `SQS queue '${plan.name}'`, plan.changes);
  return existing;
}

/** PutLifecycleHook; while the role may still be propagating, a failed test notification is retried (bounded). */
async function putHook(hook: HookStep, request: PutHookRequest, mayBePropagating: boolean, aws: AwsAdmin, log: Logger, signal: AbortSignal, options: ApplyOptions): Promise<void> {
  const giveUpAtMs = Date.now() + options.propagationTimeoutMs;
  for (let attemptNo = 1; ; attemptNo++) {
    const outcome = await aws.hooks.putHook(request, signal);
    if (outcome.kind === 'put') return;
    const waitMs = backoffDelayMs(attemptNo, options.propagationBackoff);
    if (!mayBePropagating || Date.now() + waitMs > giveUpAtMs) {
      throw new ConfigError([`failed to put lifecycle hook for '${hook.autoScalingGroupName}': ${outcome.detail}${mayBePropagating ? ` (still failing after ${Math.round(options.propagationTimeoutMs / 1000)}s of retries)` : ''}`]);
    }
    log.info(`AWS could not publish its test notification for '${hook.autoScalingGroupName}' yet (the role may still be propagating); retrying in ${(waitMs / 1000).toFixed(1)}s`);
    await sleep(waitMs, signal);
  }
}

function reportExisting(log: Logger, leftAsTheyAre: string[], action: 'keep' | 'differs' | 'update' | 'create', what: string, changes: readonly string[]): void {
  if (action === 'keep') {
    log.info(`${what} already exists and is up to date`);
  } else if (action === 'differs') {
    leftAsTheyAre.push(`${what}: ${changes.join('; ')}`);
    log.warn(`${what} already exists and differs (${changes.join('; ')}); left as it is, set flag --overwrite to update it`);
  }
}
