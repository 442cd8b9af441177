import type { LifecycleHook } from '../lifecycle/action.js';

/**
 * What enroll, unenroll and doctor need from AWS, as small interfaces over plain data. Adapters in src/aws implement
 * them with the SDK; unit tests implement them in memory. Absence is a value (undefined), never an exception;
 * failures are the domain errors of src/lifecycle/errors.ts (TransientError, AccessDeniedError, RequestRejectedError).
 */
export type Tags = Readonly<Record<string, string>>;

export interface RoleState {
  readonly name: string;
  readonly arn: string;
  /** The trust policy as JSON text (already URL-decoded). */
  readonly trustPolicy: string;
  readonly attachedPolicyArns: readonly string[];
  readonly tags: Tags;
}

export interface CreateRoleRequest {
  readonly name: string;
  readonly description: string;
  readonly trustPolicy: string;
  readonly tags: Tags;
}

export interface IamRoles {
  getRole(name: string, signal: AbortSignal): Promise<RoleState | undefined>;
  /** Returns the new role's ARN. */
  createRole(request: CreateRoleRequest, signal: AbortSignal): Promise<string>;
  updateTrustPolicy(name: string, trustPolicy: string, signal: AbortSignal): Promise<void>;
  /** Idempotent. */
  attachPolicy(name: string, policyArn: string, signal: AbortSignal): Promise<void>;
  tagRole(name: string, tags: Tags, signal: AbortSignal): Promise<void>;
  /** 'gone' when it was not attached. */
  detachPolicy(name: string, policyArn: string, signal: AbortSignal): Promise<'detached' | 'gone'>;
  /** 'in-use' when IAM refuses because something still hangs on the role (other policies, instance profiles). */
  deleteRole(name: string, signal: AbortSignal): Promise<'deleted' | 'gone' | 'in-use'>;
}

export interface QueueState {
  readonly name: string;
  readonly url: string;
  readonly arn: string;
  /** Every attribute SQS reports (`All`). */
  readonly attributes: Readonly<Record<string, string>>;
  readonly tags: Tags;
}

export interface QueueAdmin {
  /** `withTags: false` skips sqs:ListQueueTags (doctor runs with fewer permissions); tags are then {}. */
  getQueue(name: string, signal: AbortSignal, options?: { withTags?: boolean }): Promise<QueueState | undefined>;
  createQueue(name: string, attributes: Readonly<Record<string, string>>, tags: Tags, signal: AbortSignal): Promise<QueueState>;
  setAttributes(url: string, attributes: Readonly<Record<string, string>>, signal: AbortSignal): Promise<void>;
  tagQueue(url: string, tags: Tags, signal: AbortSignal): Promise<void>;
  deleteQueue(url: string, signal: AbortSignal): Promise<'deleted' | 'gone'>;
}

/** A hook as enroll and doctor see it: the domain's view plus where it notifies and with which role. */
export interface HookState extends LifecycleHook {
  readonly notificationTargetArn: string | undefined;
  readonly roleArn: string | undefined;
}

export interface PutHookRequest {
  readonly autoScalingGroupName: string;
  readonly lifecycleHookName: string;
  readonly lifecycleTransition: string;
  readonly heartbeatTimeoutSeconds: number;
  readonly defaultResult: 'CONTINUE' | 'ABANDON';
  readonly notificationTargetArn: string;
  readonly roleArn: string;
}

/**
 * 'target-unreachable': AWS could not publish its test notification to the target with the role — usually a role
 * created moments ago that IAM has not propagated yet; worth retrying for a while.
 */
export type PutHookOutcome = { readonly kind: 'put' } | { readonly kind: 'target-unreachable'; readonly detail: string };

export interface LifecycleHooks {
  /** The names among `names` that exist as Auto Scaling groups. */
  existingGroups(names: readonly string[], signal: AbortSignal): Promise<Set<string>>;
  /** Every Auto Scaling group name in the region. */
  allGroups(signal: AbortSignal): Promise<string[]>;
  /** The tags of each named group that exists (DescribeTags). */
  groupTags(names: readonly string[], signal: AbortSignal): Promise<Map<string, Tags>>;
  /** The group's hooks (all of them, or the one named). An unknown group has none. */
  describeHooks(autoScalingGroupName: string, lifecycleHookName: string | undefined, signal: AbortSignal): Promise<HookState[]>;
  putHook(request: PutHookRequest, signal: AbortSignal): Promise<PutHookOutcome>;
  deleteHook(autoScalingGroupName: string, lifecycleHookName: string, signal: AbortSignal): Promise<'deleted' | 'gone'>;
}

export interface AwsAdmin {
  readonly iam: IamRoles;
  readonly queues: QueueAdmin;
  readonly hooks: LifecycleHooks;
}
