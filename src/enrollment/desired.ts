/**
 * What enroll creates, in one place: the notification role Auto Scaling assumes, the queue and its dead-letter
 * queue with their attributes, the hook, and the tags. Pure data and comparisons; no I/O.
 */
import { requiredMaxReceiveCount } from '../lifecycle/clusterScope.js';
import type { HookState, QueueState, RoleState, Tags } from './ports.js';

export const MANAGED_BY_TAG = { key: 'managed-by', value: 'lifecycle-manager' } as const;
export const TERMINATING_TRANSITION = 'autoscaling:EC2_INSTANCE_TERMINATING';
export const LAUNCHING_TRANSITION = 'autoscaling:EC2_INSTANCE_LAUNCHING';
export const DEFAULT_HOOK_NAME = 'lifecycle-manager';
export const ROLE_DESCRIPTION = 'Role used by lifecycle-manager for sending hooks from autoscaling to SQS';
export const AUTOSCALING_SERVICE_PRINCIPAL = 'autoscaling.amazonaws.com';
export const DLQ_SUFFIX = '-dlq';

/** serve's --visibility-timeout default: serve sets it on every receive and extends it while it works. */
export const QUEUE_VISIBILITY_TIMEOUT_SECONDS = 60;
/** A lifecycle action waits at most 48 h (its global timeout); an older message describes an action AWS has ended. */
export const QUEUE_RETENTION_SECONDS = 48 * 3600;
/** The SQS maximum: time to look at what went wrong. */
export const DLQ_RETENTION_SECONDS = 14 * 24 * 3600;
/**
 * Receives before SQS moves a message to the dead-letter queue. serve releases a live hook's message on shutdown
 * and when AWS is briefly unavailable, so a live hook survives four such returns; a message serve cannot parse is
 * released at once and reaches the dead-letter queue after five quick receives instead of cycling forever.
 */
export const MAX_RECEIVE_COUNT = 5;

export function trustPolicy(): string {
  return JSON.stringify({
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Principal: { Service: AUTOSCALING_SERVICE_PRINCIPAL }, Action: 'sts:AssumeRole' }],
  });
}

/** `aws`, `aws-cn` or `aws-us-gov`, from the region name. */
export function partitionOf(region: string): string {
  if (region.startsWith('cn-')) return 'aws-cn';
  if (region.startsWith('us-gov-')) return 'aws-us-gov';
  return 'aws';
}

export function notificationPolicyArn(region: string): string {
  return `arn:${partitionOf(region)}:iam::aws:policy/service-role/AutoScalingNotificationAccessRole`;
}

export function deadLetterQueueName(queueName: string): string {
  return `${queueName}${DLQ_SUFFIX}`;
}

export function queueAttributes(deadLetterQueueArn: string, maxReceiveCount = MAX_RECEIVE_COUNT): Record<string, string> {
  return {
    VisibilityTimeout: String(QUEUE_VISIBILITY_TIMEOUT_SECONDS),
    MessageRetentionPeriod: String(QUEUE_RETENTION_SECONDS),
    SqsManagedSseEnabled: 'true',
    RedrivePolicy: JSON.stringify({ deadLetterTargetArn: deadLetterQueueArn, maxReceiveCount }),
  };
}

/**
 * The redrive policy's maxReceiveCount: MAX_RECEIVE_COUNT for a queue of one cluster; for a queue shared by k
 * clusters (at least 2 once --cluster-name says it is shared) enough that the other clusters' receives, which all
 * count, do not send live hooks' messages to the dead-letter queue.
 */
export function maxReceiveCountFor(sharingClusters: readonly string[] | undefined): number {
  if (!sharingClusters) return MAX_RECEIVE_COUNT;
  return Math.max(MAX_RECEIVE_COUNT, requiredMaxReceiveCount(Math.max(2, sharingClusters.length)));
}

export function deadLetterQueueAttributes(): Record<string, string> {
  return { MessageRetentionPeriod: String(DLQ_RETENTION_SECONDS), SqsManagedSseEnabled: 'true' };
}

/** The user's tags plus managed-by=lifecycle-manager. */
export function resourceTags(userTags: Tags): Tags {
  return { ...userTags, [MANAGED_BY_TAG.key]: MANAGED_BY_TAG.value };
}

/** True when the trust policy lets Auto Scaling assume the role. */
export function trustsAutoScaling(policy: string): boolean {
  let doc: { Statement?: unknown };
  try {
    doc = JSON.parse(policy) as { Statement?: unknown };
  } catch {
    return false;
  }
  const statements = Array.isArray(doc.Statement) ? doc.Statement : [doc.Statement];
  return statements.some((s) => {
    const st = s as { Effect?: string; Action?: unknown; Principal?: { Service?: unknown } } | undefined;
    const actions = ([] as unknown[]).concat(st?.Action ?? []);
    const services = ([] as unknown[]).concat(st?.Principal?.Service ?? []);
    return st?.Effect === 'Allow' && actions.some((a) => a === 'sts:AssumeRole' || a === 'sts:*' || a === '*') && services.includes(AUTOSCALING_SERVICE_PRINCIPAL);
  });
}

/** The tags in `wanted` that `have` lacks or holds with another value. */
export function missingTags(have: Tags, wanted: Tags): Record<string, string> {
  return Object.fromEntries(Object.entries(wanted).filter(([k, v]) => have[k] !== v));
}

/** What differs between a role and what enroll wants, in words; empty when it is up to date. */
export function roleDifferences(role: RoleState, wantedTags: Tags): string[] {
  const out: string[] = [];
  if (!trustsAutoScaling(role.trustPolicy)) out.push(`trust policy does not let ${AUTOSCALING_SERVICE_PRINCIPAL} assume it`);
  const tags = Object.keys(missingTags(role.tags, wantedTags));
  if (tags.length > 0) out.push(`tags ${tags.join(', ')} missing or different`);
  return out;
}

/** The attributes of `queue` that differ from `wanted` (encryption counts as satisfied by SSE-KMS too). */
export function attributeDifferences(queue: QueueState, wanted: Readonly<Record<string, string>>): Record<string, string> {
  const diff: Record<string, string> = {};
  for (const [name, value] of Object.entries(wanted)) {
    const have = queue.attributes[name];
    if (name === 'SqsManagedSseEnabled') {
      if (have !== 'true' && !queue.attributes['KmsMasterKeyId']) diff[name] = value;
    } else if (name === 'RedrivePolicy') {
      if (!sameRedrive(have, value)) diff[name] = value;
    } else if (have !== value) {
      diff[name] = value;
    }
  }
  return diff;
}

export interface RedrivePolicy {
  readonly deadLetterTargetArn: string;
  readonly maxReceiveCount: number;
}

export function parseRedrivePolicy(text: string | undefined): RedrivePolicy | undefined {
  if (!text) return undefined;
  try {
    const p = JSON.parse(text) as { deadLetterTargetArn?: unknown; maxReceiveCount?: unknown };
    if (typeof p.deadLetterTargetArn !== 'string') return undefined;
    return { deadLetterTargetArn: p.deadLetterTargetArn, maxReceiveCount: Number(p.maxReceiveCount) };
  } catch {
    return undefined;
  }
}

function sameRedrive(a: string | undefined, b: string): boolean {
  const x = parseRedrivePolicy(a);
  const y = parseRedrivePolicy(b);
  return Boolean(x && y && x.deadLetterTargetArn === y.deadLetterTargetArn && x.maxReceiveCount === y.maxReceiveCount);
}

/** The name in an ARN's last segment: `…:role/path/name` → name, `…:queue-name` → queue-name. */
export function arnName(arn: string | undefined): string | undefined {
  if (!arn) return undefined;
  const tail = arn.split(':').slice(5).join(':');
  return tail.split('/').pop();
}

export interface WantedHook {
  readonly lifecycleHookName: string;
  readonly heartbeatTimeoutSeconds: number;
  readonly defaultResult: 'CONTINUE' | 'ABANDON';
  readonly queueName: string;
  readonly roleName: string;
  /** Default: a termination hook. */
  readonly lifecycleTransition?: string;
}

/** What differs between an existing hook and the wanted one, in words; empty when it is up to date. */
export function hookDifferences(hook: HookState, wanted: WantedHook): string[] {
  const out: string[] = [];
  const transition = wanted.lifecycleTransition ?? TERMINATING_TRANSITION;
  if (hook.lifecycleTransition !== transition) out.push(`transition ${hook.lifecycleTransition} → ${transition}`);
  if (hook.heartbeatTimeoutSeconds !== wanted.heartbeatTimeoutSeconds) out.push(`HeartbeatTimeout ${hook.heartbeatTimeoutSeconds} → ${wanted.heartbeatTimeoutSeconds}`);
  if (hook.defaultResult !== wanted.defaultResult) out.push(`DefaultResult ${hook.defaultResult} → ${wanted.defaultResult}`);
  if (arnName(hook.notificationTargetArn) !== wanted.queueName) out.push(`target ${arnName(hook.notificationTargetArn) ?? 'none'} → ${wanted.queueName}`);
  if (arnName(hook.roleArn) !== wanted.roleName) out.push(`role ${arnName(hook.roleArn) ?? 'none'} → ${wanted.roleName}`);
  return out;
}
