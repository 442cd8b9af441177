import { attempt } from './attempt.js';
import { mapBounded } from './mapBounded.js';
import { deadLetterQueueName } from './desired.js';
import { clustersSharingQueue } from './sharing.js';
import type { AwsAdmin, HookState, QueueState, RoleState } from './ports.js';

/** What already exists of an installation, read before anything is changed. */
export interface Observed {
  readonly role: RoleState | undefined;
  readonly queue: QueueState | undefined;
  readonly deadLetterQueue: QueueState | undefined;
  /** The named groups that exist. */
  readonly existingGroups: ReadonlySet<string>;
  /** The hook of that name on each existing group, when it has one. */
  readonly hooks: ReadonlyMap<string, HookState | undefined>;
  /** With a launch hook name (enroll --launch-hook): the hook of that name on each existing group; else empty. */
  readonly launchHooks: ReadonlyMap<string, HookState | undefined>;
  /** With a cluster name: every cluster whose groups' hooks notify the queue, these groups' and that one included. */
  readonly sharingClusters?: readonly string[];
}

const HOOK_READS_IN_FLIGHT = 5;

/** Reads the role, both queues, the groups and their hooks. Read-only. */
export async function observeInstallation(
  request: { readonly roleName: string | undefined; readonly queueName: string | undefined; readonly groupNames: readonly string[]; readonly hookName: string; readonly clusterName?: string | undefined; readonly launchHookName?: string | undefined },
  aws: AwsAdmin,
  signal: AbortSignal,
): Promise<Observed> {
  const role = request.roleName ? await attempt('failed to look up notification role', () => aws.iam.getRole(request.roleName!, signal)) : undefined;
  const [queue, deadLetterQueue] = request.queueName
    ? await attempt('failed to look up SQS queue', () => Promise.all([aws.queues.getQueue(request.queueName!, signal), aws.queues.getQueue(deadLetterQueueName(request.queueName!), signal)]))
    : [undefined, undefined];
  const existingGroups = request.groupNames.length > 0
    ? await attempt('failed to describe Auto Scaling groups', () => aws.hooks.existingGroups(request.groupNames, signal))
    : new Set<string>();
  const present = request.groupNames.filter((g) => existingGroups.has(g));
  const found = await attempt('failed to describe lifecycle hooks', () => mapBounded(present, HOOK_READS_IN_FLIGHT, async (g) => (await aws.hooks.describeHooks(g, request.hookName, signal))[0]));
  const launchName = request.launchHookName;
  const launchFound = launchName
    ? await attempt('failed to describe lifecycle hooks', () => mapBounded(present, HOOK_READS_IN_FLIGHT, async (g) => (await aws.hooks.describeHooks(g, launchName, signal))[0]))
    : [];
  const sharingClusters = request.clusterName && request.queueName
    ? await attempt('failed to find the clusters sharing the queue', () => clustersSharingQueue(aws.hooks, request.queueName!, { groups: present, cluster: request.clusterName }, signal))
    : undefined;
  return { role, queue, deadLetterQueue, existingGroups, hooks: new Map(present.map((g, i) => [g, found[i]])),
    launchHooks: new Map(launchName ? present.map((g, i) => [g, launchFound[i]]) : []), ...(sharingClusters ? { sharingClusters } : {}) };
}
