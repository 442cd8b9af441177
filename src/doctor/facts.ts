/**
 * Gathers what doctor judges: the queue and its dead-letter queue, the hooks, the IAM simulation and the Kubernetes
 * access reviews. Every failure becomes a fact (a value), so one unreachable API does not hide the other checks.
 */
import { mapBounded } from '../enrollment/mapBounded.js';
import { arnName, parseRedrivePolicy } from '../enrollment/desired.js';
import { clustersSharingQueue } from '../enrollment/sharing.js';
import type { AwsAdmin, HookState, QueueState } from '../enrollment/ports.js';
import { type PermissionResource, servePermissions, simulationResources } from '../aws/permissions.js';
import { type KubePermission, servicePermissions } from '../kube/permissions.js';
import { describeError } from '../lifecycle/errors.js';
import type { DoctorSettings } from './doctorSettings.js';
import type { AccessReviewer, PermissionSimulator } from './ports.js';

export type Lookup<T> = { readonly kind: 'found'; readonly value: T } | { readonly kind: 'missing' } | { readonly kind: 'failed'; readonly detail: string };

export interface GroupHook {
  readonly autoScalingGroupName: string;
  /** undefined: the group has no hook of that name. */
  readonly hook: HookState | undefined;
}

export type HookFacts =
  | { readonly kind: 'listed'; readonly groups: readonly GroupHook[]; readonly missingGroups: readonly string[]; readonly scanned: boolean }
  | { readonly kind: 'failed'; readonly detail: string };

export type IamFacts =
  | { readonly kind: 'simulated'; readonly principal: string; readonly checked: readonly string[]; readonly denied: readonly string[] }
  | { readonly kind: 'skipped'; readonly reason: string }
  | { readonly kind: 'principal-not-found'; readonly principal: string; readonly detail: string };

export type RbacFacts =
  | { readonly kind: 'reviewed'; readonly identity: string; readonly results: readonly { readonly permission: KubePermission; readonly allowed: boolean }[] }
  | { readonly kind: 'failed'; readonly identity: string; readonly detail: string };

export interface DoctorFacts {
  readonly queue: Lookup<QueueState>;
  /** undefined when there is no queue or it has no redrive policy. */
  readonly deadLetterQueue: Lookup<QueueState> | undefined;
  readonly hooks: HookFacts;
  readonly iam: IamFacts;
  readonly rbac: RbacFacts;
  /** With --cluster-name: the clusters whose groups' hooks notify the queue (undefined: not asked, or unknown). */
  readonly sharingClusters?: readonly string[] | undefined;
  /** With --launch-hooks: the launch hook of each group found (undefined: not asked). */
  readonly launchHooks?: HookFacts | undefined;
}

export interface DoctorDeps {
  readonly aws: AwsAdmin;
  readonly simulator: PermissionSimulator;
  /** A reviewer, or why none could be built (no kubeconfig). */
  readonly reviewer: AccessReviewer | { readonly unavailable: string; readonly identity: string };
}

const READS_IN_FLIGHT = 5;

export async function gatherFacts(settings: DoctorSettings, deps: DoctorDeps, signal: AbortSignal): Promise<DoctorFacts> {
  const queue = await lookup(() => deps.aws.queues.getQueue(settings.queueName, signal, { withTags: false }));
  let deadLetterQueue: Lookup<QueueState> | undefined;
  const redrive = queue.kind === 'found' ? parseRedrivePolicy(queue.value.attributes['RedrivePolicy']) : undefined;
  const dlqName = arnName(redrive?.deadLetterTargetArn);
  if (dlqName) deadLetterQueue = await lookup(() => deps.aws.queues.getQueue(dlqName, signal, { withTags: false }));
  const [hooks, rbac] = await Promise.all([gatherHooks(settings, deps.aws, signal), gatherRbac(deps.reviewer, servicePermissions(settings.leaseNamespace), signal)]);
  const groupNames = hooks.kind === 'listed' ? hooks.groups.map((g) => g.autoScalingGroupName) : settings.groupNames;
  const iam = await gatherIam(settings, queue.kind === 'found' ? queue.value.arn : undefined, groupNames, deps.simulator, signal);
  const sharingClusters = settings.clusterName
    ? await clustersSharingQueue(deps.aws.hooks, settings.queueName, { groups: groupNames, cluster: settings.clusterName }, signal).catch(() => undefined)
    : undefined;
  const launchHooks = settings.launch && hooks.kind === 'listed'
    ? await gatherLaunchHooks(settings.launch.hookName, groupNames, deps.aws, signal)
    : undefined;
  return { queue, deadLetterQueue, hooks, iam, rbac, sharingClusters, launchHooks };
}

async function lookup<T>(read: () => Promise<T | undefined>): Promise<Lookup<T>> {
  try {
    const value = await read();
    return value === undefined ? { kind: 'missing' } : { kind: 'found', value };
  } catch (e) {
    return { kind: 'failed', detail: describeError(e) };
  }
}

async function gatherHooks(settings: DoctorSettings, aws: AwsAdmin, signal: AbortSignal): Promise<HookFacts> {
  try {
    const scanned = settings.groupNames.length === 0;
    const existing = scanned ? new Set(await aws.hooks.allGroups(signal)) : await aws.hooks.existingGroups(settings.groupNames, signal);
    const names = scanned ? [...existing] : settings.groupNames.filter((g) => existing.has(g));
    const found = await mapBounded(names, READS_IN_FLIGHT, async (g) => ({ autoScalingGroupName: g, hook: (await aws.hooks.describeHooks(g, settings.hookName, signal))[0] }));
    // Scanning, only the hooks that notify this queue belong to the installation.
    const groups = scanned ? found.filter((g) => g.hook && arnName(g.hook.notificationTargetArn) === settings.queueName) : found;
    return { kind: 'listed', groups, missingGroups: settings.groupNames.filter((g) => !existing.has(g)), scanned };
  } catch (e) {
    return { kind: 'failed', detail: describeError(e) };
  }
}

async function gatherLaunchHooks(hookName: string, groupNames: readonly string[], aws: AwsAdmin, signal: AbortSignal): Promise<HookFacts> {
  try {
    const groups = await mapBounded(groupNames, READS_IN_FLIGHT, async (g) => ({ autoScalingGroupName: g, hook: (await aws.hooks.describeHooks(g, hookName, signal))[0] }));
    return { kind: 'listed', groups, missingGroups: [], scanned: false };
  } catch (e) {
    return { kind: 'failed', detail: describeError(e) };
  }
}

async function gatherIam(settings: DoctorSettings, queueArn: string | undefined, groupNames: readonly string[], simulator: PermissionSimulator, signal: AbortSignal): Promise<IamFacts> {
  let principal: string;
  try {
    principal = settings.principalArn ?? await simulator.callerArn(signal);
  } catch (e) {
    return { kind: 'skipped', reason: `could not tell who the caller is (sts:GetCallerIdentity: ${describeError(e)})` };
  }
  const [, partition = 'aws', , , account = ''] = principal.split(':');
  const context = { partition, region: settings.region, account, queueArn, queueName: settings.queueName, groupNames };
  const byResource = new Map<PermissionResource, string[]>();
  for (const p of servePermissions(settings.withDeregister, settings.deregisterTargetTypes)) byResource.set(p.resource, [...(byResource.get(p.resource) ?? []), p.action]);
  const denied: string[] = [];
  try {
    // One simulation per kind of resource, each against ARNs a least-privilege policy would name.
    for (const [resource, actions] of byResource) {
      const outcome = await simulator.simulate(principal, actions, simulationResources(resource, context), signal);
      if (outcome.kind === 'unavailable') return { kind: 'skipped', reason: outcome.reason };
      if (outcome.kind === 'principal-not-found') return { kind: 'principal-not-found', principal, detail: outcome.detail };
      denied.push(...outcome.denied);
    }
  } catch (e) {
    return { kind: 'skipped', reason: `iam:SimulatePrincipalPolicy failed: ${describeError(e)}` };
  }
  return { kind: 'simulated', principal, checked: [...byResource.values()].flat(), denied };
}

async function gatherRbac(reviewer: DoctorDeps['reviewer'], permissions: readonly KubePermission[], signal: AbortSignal): Promise<RbacFacts> {
  if ('unavailable' in reviewer) return { kind: 'failed', identity: reviewer.identity, detail: reviewer.unavailable };
  try {
    const results = await mapBounded(permissions, READS_IN_FLIGHT, async (permission) => ({ permission, allowed: await reviewer.allowed(permission, signal) }));
    return { kind: 'reviewed', identity: reviewer.identity, results };
  } catch (e) {
    return { kind: 'failed', identity: reviewer.identity, detail: describeError(e) };
  }
}
