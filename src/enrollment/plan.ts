/**
 * Decides what enroll does, from the request and what already exists. Pure: no I/O, so a dry run prints exactly
 * what a real run would do.
 */
import {
  DLQ_RETENTION_SECONDS, LAUNCHING_TRANSITION, arnName, QUEUE_RETENTION_SECONDS, QUEUE_VISIBILITY_TIMEOUT_SECONDS, TERMINATING_TRANSITION,
  attributeDifferences, deadLetterQueueAttributes, deadLetterQueueName, hookDifferences, missingTags, notificationPolicyArn,
  maxReceiveCountFor, parseRedrivePolicy, queueAttributes, resourceTags, roleDifferences, trustsAutoScaling,
} from './desired.js';
import { LAUNCH_HOOK_DEFAULT_RESULT, type EnrollSettings } from './enrollSettings.js';
import type { Observed } from './observe.js';
import type { HookState, QueueState, Tags } from './ports.js';

/**
 * create: does not exist yet. update: exists and differs; --overwrite given. keep: exists as wanted.
 * differs: exists and differs; left as it is because --overwrite was not given.
 */
export type StepAction = 'create' | 'update' | 'keep' | 'differs';

export interface RoleStep {
  readonly action: StepAction;
  readonly name: string;
  readonly arn: string | undefined;
  readonly changes: readonly string[];
  readonly replaceTrustPolicy: boolean;
  readonly tagsToSet: Tags;
}

export interface PolicyStep {
  readonly action: 'create' | 'keep';
  readonly policyArn: string;
}

export interface QueueStep {
  readonly action: StepAction;
  readonly name: string;
  readonly existing: QueueState | undefined;
  readonly changes: readonly string[];
  readonly tagsToSet: Tags;
}

export interface HookStep {
  readonly action: StepAction;
  readonly autoScalingGroupName: string;
  readonly lifecycleHookName: string;
  readonly lifecycleTransition: string;
  readonly defaultResult: 'CONTINUE' | 'ABANDON';
  readonly changes: readonly string[];
  /** After the step, the group's hook sends termination notifications to the queue (maybe with other settings). */
  readonly notifiesQueue: boolean;
}

export interface EnrollPlan {
  readonly role: RoleStep;
  readonly policy: PolicyStep;
  readonly deadLetterQueue: QueueStep;
  readonly queue: QueueStep;
  readonly hooks: readonly HookStep[];
  /** With --launch-hook: one launch hook per group (DefaultResult CONTINUE), notifying the same queue. */
  readonly launchHooks: readonly HookStep[];
  /** Receives before a message moves to the dead-letter queue (more when the queue is shared between clusters). */
  readonly maxReceiveCount: number;
  /** With --cluster-name: the clusters found sharing the queue. */
  readonly sharingClusters: readonly string[] | undefined;
  /** Reasons not to change anything at all (missing groups, an unusable role); one line each. */
  readonly problems: readonly string[];
}

export function planEnrollment(settings: EnrollSettings, observed: Observed): EnrollPlan {
  const tags = resourceTags(settings.tags);
  const problems = settings.groupNames
    .filter((g) => !observed.existingGroups.has(g))
    .map((g) => `Auto Scaling group "${g}" not found in region ${settings.region}`);

  const role = planRole(settings, observed, tags);
  if (role.action === 'differs' && observed.role && !trustsAutoScaling(observed.role.trustPolicy)) {
    problems.push(`notification role "${settings.roleName}" exists but its trust policy does not let autoscaling.amazonaws.com assume it; re-run with --overwrite to replace the trust policy`);
  }
  const policyArn = notificationPolicyArn(settings.region);
  const policy: PolicyStep = { action: observed.role?.attachedPolicyArns.includes(policyArn) ? 'keep' : 'create', policyArn };

  const dlqName = deadLetterQueueName(settings.queueName);
  const deadLetterQueue = planQueue(dlqName, observed.deadLetterQueue, deadLetterQueueAttributes(), tags, settings.overwrite);
  // The dead-letter queue's ARN is known when it exists, or follows from the main queue's ARN (same account and region).
  const dlqArn = observed.deadLetterQueue?.arn ?? (observed.queue ? siblingArn(observed.queue.arn, dlqName) : undefined);
  const maxReceiveCount = maxReceiveCountFor(observed.sharingClusters);
  const queue = planQueue(settings.queueName, observed.queue, queueAttributes(dlqArn ?? '', maxReceiveCount), tags, settings.overwrite);

  const present = settings.groupNames.filter((g) => observed.existingGroups.has(g));
  const planHooks = (name: string, transition: string, defaultResult: 'CONTINUE' | 'ABANDON', found: ReadonlyMap<string, HookState | undefined>): HookStep[] => {
    const wanted = { lifecycleHookName: name, heartbeatTimeoutSeconds: settings.heartbeatTimeoutSeconds, defaultResult, queueName: settings.queueName, roleName: settings.roleName, lifecycleTransition: transition };
    return present.map((g): HookStep => {
      const step = { autoScalingGroupName: g, lifecycleHookName: name, lifecycleTransition: transition, defaultResult };
      const hook = found.get(g);
      if (!hook) return { ...step, action: 'create', changes: [], notifiesQueue: true };
      const changes = hookDifferences(hook, wanted);
      const action = changes.length === 0 ? 'keep' : settings.overwrite ? 'update' : 'differs';
      const notifiesQueue = action !== 'differs' || (hook.lifecycleTransition === transition && arnName(hook.notificationTargetArn) === settings.queueName);
      return { ...step, action, changes, notifiesQueue };
    });
  };
  const hooks = planHooks(settings.hookName, TERMINATING_TRANSITION, settings.defaultResult, observed.hooks);
  const launchHooks = settings.launchHookName
    ? planHooks(settings.launchHookName, LAUNCHING_TRANSITION, LAUNCH_HOOK_DEFAULT_RESULT, observed.launchHooks)
    : [];
  return { role, policy, deadLetterQueue, queue, hooks, launchHooks, maxReceiveCount, sharingClusters: observed.sharingClusters, problems };
}

function planRole(settings: EnrollSettings, observed: Observed, tags: Tags): RoleStep {
  const existing = observed.role;
  if (!existing) return { action: 'create', name: settings.roleName, arn: undefined, changes: [], replaceTrustPolicy: false, tagsToSet: tags };
  const changes = roleDifferences(existing, tags);
  const action: StepAction = changes.length === 0 ? 'keep' : settings.overwrite ? 'update' : 'differs';
  return {
    action, name: settings.roleName, arn: existing.arn, changes,
    replaceTrustPolicy: !trustsAutoScaling(existing.trustPolicy), tagsToSet: missingTags(existing.tags, tags),
  };
}

function planQueue(name: string, existing: QueueState | undefined, wanted: Record<string, string>, tags: Tags, overwrite: boolean): QueueStep {
  if (!existing) return { action: 'create', name, existing, changes: [], tagsToSet: tags };
  const diff = attributeDifferences(existing, wanted);
  const tagsToSet = missingTags(existing.tags, tags);
  const changes = [
    ...Object.entries(diff).map(([k, v]) => `${k} ${describeAttribute(k, existing.attributes[k])} → ${describeAttribute(k, v)}`),
    ...(Object.keys(tagsToSet).length > 0 ? [`tags ${Object.keys(tagsToSet).join(', ')} missing or different`] : []),
  ];
  return { action: changes.length === 0 ? 'keep' : overwrite ? 'update' : 'differs', name, existing, changes, tagsToSet };
}

function describeAttribute(name: string, value: string | undefined): string {
  if (value === undefined || value === '') return 'unset';
  if (name === 'RedrivePolicy') {
    const p = parseRedrivePolicy(value);
    return p ? `${p.deadLetterTargetArn.split(':').pop()} after ${p.maxReceiveCount} receives` : value;
  }
  return value;
}

/** The ARN of queue `name` next to the queue whose ARN is `arn`. */
export function siblingArn(arn: string, name: string): string {
  return [...arn.split(':').slice(0, 5), name].join(':');
}

/** The plan in words, one line per resource (what a dry run prints). */
export function describePlan(plan: EnrollPlan, settings: EnrollSettings): string[] {
  const verb = (s: { action: StepAction; changes: readonly string[] }, what: string, extra = ''): string => {
    switch (s.action) {
      case 'create': return `create ${what}${extra}`;
      case 'update': return `update ${what}: ${s.changes.join('; ')}`;
      case 'keep': return `keep ${what} (exists, up to date)`;
      case 'differs': return `leave ${what} as it is (differs: ${s.changes.join('; ')}; --overwrite would update it)`;
    }
  };
  const tagText = Object.entries(resourceTags(settings.tags)).map(([k, v]) => `${k}=${v}`).join(',');
  return [
    verb(plan.role, `IAM role '${plan.role.name}'`, ` trusted by autoscaling.amazonaws.com (tags ${tagText})`),
    plan.policy.action === 'create' ? `attach policy '${plan.policy.policyArn}' to role '${plan.role.name}'` : `keep policy '${plan.policy.policyArn}' attached to role '${plan.role.name}'`,
    verb(plan.deadLetterQueue, `SQS queue '${plan.deadLetterQueue.name}'`, ` (dead-letter queue, SSE-SQS, retention ${DLQ_RETENTION_SECONDS}s, tags ${tagText})`),
    verb(plan.queue, `SQS queue '${plan.queue.name}'`, ` (visibility timeout ${QUEUE_VISIBILITY_TIMEOUT_SECONDS}s, retention ${QUEUE_RETENTION_SECONDS}s, SSE-SQS, redrive to '${plan.deadLetterQueue.name}' after ${plan.maxReceiveCount} receives${plan.sharingClusters ? `, sized for ${Math.max(2, plan.sharingClusters.length)} clusters sharing it` : ''}, tags ${tagText})`),
    ...[...plan.hooks, ...plan.launchHooks].map((h) => verb(h, `lifecycle hook '${h.lifecycleHookName}' on '${h.autoScalingGroupName}'`, ` (${h.lifecycleTransition}, HeartbeatTimeout ${settings.heartbeatTimeoutSeconds}s, DefaultResult ${h.defaultResult}, notifying '${settings.queueName}')`)),
  ];
}
