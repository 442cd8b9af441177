/**
 * Judges an installation from the gathered facts. Pure: each check is a row with a status, what was found and, for
 * a failure, the fix. A skipped check is one that could not be made here (and says why); it is not a failure.
 */
import { DLQ_SUFFIX, TERMINATING_TRANSITION, arnName, parseRedrivePolicy } from '../enrollment/desired.js';
import type { HookState, QueueState } from '../enrollment/ports.js';
import { describePermission, ruleFor } from '../kube/permissions.js';
import type { DoctorSettings } from './doctorSettings.js';
import { OWN_RECEIVES, requiredMaxReceiveCount } from '../lifecycle/clusterScope.js';
import { budgetTerms, heartbeatTimeoutFor, totalBudgetSeconds } from '../lifecycle/timeBudget.js';
import type { DoctorFacts, GroupHook } from './facts.js';
import { launchHookChecks } from './launchChecks.js';

export type CheckStatus = 'pass' | 'fail' | 'skip';

export interface CheckResult {
  readonly status: CheckStatus;
  readonly check: string;
  readonly detail: string;
  /** What to do about a failure. */
  readonly fix?: string;
}

/** Fewer receives than this and one restart plus a brief AWS outage can push a live hook into the dead-letter queue. */
export const MIN_MAX_RECEIVE_COUNT = 3;

const pass = (check: string, detail: string): CheckResult => ({ status: 'pass', check, detail });
const fail = (check: string, detail: string, fix: string): CheckResult => ({ status: 'fail', check, detail, fix });
const skip = (check: string, detail: string): CheckResult => ({ status: 'skip', check, detail });

export function evaluateInstallation(given: DoctorSettings, facts: DoctorFacts): CheckResult[] {
  const hooks = facts.hooks.kind === 'listed' ? facts.hooks.groups.flatMap((g) => (g.hook ? [g.hook] : [])) : [];
  // Fixes name the groups found when none were given, and the role the hooks use.
  const settings: FixSettings = {
    ...given,
    groupNames: given.groupNames.length > 0 ? given.groupNames : hooks.map((h) => h.autoScalingGroupName),
    roleName: hooks.map((h) => arnName(h.roleArn)).find(Boolean),
  };
  return [
    queueCheck(settings, facts),
    visibilityCheck(settings, hooks),
    redriveCheck(settings, facts),
    ...hookChecks(settings, facts),
    ...launchHookChecks(settings, facts, enrollCommand),
    budgetCheck(settings),
    iamCheck(facts),
    ...rbacChecks(facts),
  ];
}

/** What the fixes are written from: the settings, plus the notification role when a hook names it. */
export type FixSettings = DoctorSettings & { readonly roleName?: string | undefined };

/** The enroll command that creates or repairs this installation. */
export function enrollCommand(settings: FixSettings, options: { groups?: readonly string[]; heartbeatTimeoutSeconds?: number; overwrite?: boolean; role?: string; defaultResult?: boolean } = {}): string {
  const groups = options.groups ?? settings.groupNames;
  return [
    'lifecycle-manager enroll', `--region ${settings.region}`, `--queue-name ${settings.queueName}`,
    `--notification-role-name ${options.role ?? settings.roleName ?? '<role>'}`, `--target-scaling-groups ${groups.length > 0 ? groups.join(',') : '<groups>'}`,
    ...(options.heartbeatTimeoutSeconds ? [`--heartbeat-timeout ${options.heartbeatTimeoutSeconds}`] : []),
    ...(options.defaultResult || settings.expectedDefaultResult !== 'CONTINUE' ? [`--default-result ${settings.expectedDefaultResult}`] : []),
    ...(settings.hookName !== 'lifecycle-manager' ? [`--hook-name ${settings.hookName}`] : []),
    ...(settings.launch ? ['--launch-hook', ...(settings.launch.hookName !== 'lifecycle-manager-launch' ? [`--launch-hook-name ${settings.launch.hookName}`] : [])] : []),
    ...(options.overwrite ? ['--overwrite'] : []),
  ].join(' ');
}

function queueCheck(settings: FixSettings, facts: DoctorFacts): CheckResult {
  const name = 'SQS queue';
  switch (facts.queue.kind) {
    case 'found': return pass(name, `'${settings.queueName}' reachable at ${facts.queue.value.url}`);
    case 'missing': return fail(name, `'${settings.queueName}' does not exist in ${settings.region}`, `create it with: ${enrollCommand(settings)}`);
    case 'failed': return fail(name, `cannot read '${settings.queueName}': ${facts.queue.detail}`, 'check --region and the credentials; serve needs sqs:GetQueueUrl and sqs:GetQueueAttributes on it');
  }
}

/**
 * If a replica dies holding a message, the message comes back after --visibility-timeout and is received within
 * --polling-interval; the next replica heartbeats at once. The hook expires HeartbeatTimeout after the last
 * heartbeat, and heartbeats come every HeartbeatTimeout/2: so the message must come back within half of it.
 */
function visibilityCheck(settings: FixSettings, hooks: readonly HookState[]): CheckResult {
  const name = 'visibility timeout';
  if (hooks.length === 0) return skip(name, 'no enrolled hook to compare with');
  const shortest = Math.min(...hooks.map((h) => h.heartbeatTimeoutSeconds));
  const returnSeconds = settings.visibilityTimeoutSeconds + settings.pollingIntervalSeconds;
  const detail = `a message held by a crashed replica returns within ${returnSeconds}s (--visibility-timeout ${settings.visibilityTimeoutSeconds}s + --polling-interval ${settings.pollingIntervalSeconds}s)`;
  if (returnSeconds < shortest / 2) return pass(name, `${detail}, before a hook with HeartbeatTimeout ${shortest}s can expire`);
  const maxVisibility = Math.ceil(shortest / 2) - settings.pollingIntervalSeconds - 1;
  const raise = `raise the hooks' HeartbeatTimeout to at least ${2 * returnSeconds + 2}s (${enrollCommand(settings, { heartbeatTimeoutSeconds: 2 * returnSeconds + 2, overwrite: true })})`;
  return fail(name, `${detail}: a hook with HeartbeatTimeout ${shortest}s may expire first (it needs < ${shortest / 2}s)`,
    maxVisibility >= 10 ? `run serve with --visibility-timeout ${maxVisibility} or less, or ${raise}` : raise);
}

function redriveCheck(settings: FixSettings, facts: DoctorFacts): CheckResult {
  const name = 'dead-letter queue';
  if (facts.queue.kind !== 'found') return skip(name, 'no queue to check');
  const queue: QueueState = facts.queue.value;
  const repair = `${enrollCommand(settings, { overwrite: true })} (creates '${settings.queueName}${DLQ_SUFFIX}' and the redrive policy)`;
  const redrive = parseRedrivePolicy(queue.attributes['RedrivePolicy']);
  if (!redrive) return fail(name, 'the queue has no redrive policy: messages serve cannot parse are deleted instead of kept', repair);
  const dlqName = arnName(redrive.deadLetterTargetArn) ?? redrive.deadLetterTargetArn;
  const dlq = facts.deadLetterQueue;
  if (!dlq || dlq.kind === 'missing') return fail(name, `the redrive target '${dlqName}' does not exist`, repair);
  if (dlq.kind === 'failed') return fail(name, `cannot read the redrive target '${dlqName}': ${dlq.detail}`, 'check the credentials; doctor reads it with sqs:GetQueueUrl and sqs:GetQueueAttributes');
  if (!(redrive.maxReceiveCount >= MIN_MAX_RECEIVE_COUNT)) {
    return fail(name, `maxReceiveCount ${redrive.maxReceiveCount}: a restart or a brief AWS outage can move a live hook's message to '${dlqName}'`,
      `set maxReceiveCount to ${MIN_MAX_RECEIVE_COUNT} or more (${enrollCommand(settings, { overwrite: true })} sets ${OWN_RECEIVES})`);
  }
  const sharing = facts.sharingClusters;
  if (settings.clusterName && sharing) {
    // Every receive by another cluster counts: a shared queue needs room for them, or hooks reach the DLQ and expire.
    const clusters = Math.max(2, sharing.length);
    const needed = requiredMaxReceiveCount(clusters);
    if (redrive.maxReceiveCount < needed) {
      return fail(name, `maxReceiveCount ${redrive.maxReceiveCount} on a queue shared by ${clusters} clusters${sharing.length > 0 ? ` (${sharing.join(', ')})` : ''}: each receive by another cluster counts, so some live hooks' messages reach '${dlqName}' and expire`,
        `set maxReceiveCount to ${needed} or more (${enrollCommand(settings, { overwrite: true })} --cluster-name ${settings.clusterName} sizes it)`);
    }
  }
  const queueRetention = Number(queue.attributes['MessageRetentionPeriod'] ?? 345600);
  const dlqRetention = Number(dlq.value.attributes['MessageRetentionPeriod'] ?? 345600);
  if (dlqRetention < queueRetention) {
    return fail(name, `'${dlqName}' keeps messages ${dlqRetention}s, less than the queue (${queueRetention}s); a moved message keeps its age and may expire on arrival`,
      `raise MessageRetentionPeriod of '${dlqName}' to ${queueRetention} or more`);
  }
  return pass(name, `'${dlqName}' after ${redrive.maxReceiveCount} receives, keeps messages ${dlqRetention}s`);
}

function hookChecks(settings: FixSettings, facts: DoctorFacts): CheckResult[] {
  const hooks = facts.hooks;
  if (hooks.kind === 'failed') return [fail('lifecycle hooks', `cannot list them: ${hooks.detail}`, 'check --region and the credentials (autoscaling:DescribeAutoScalingGroups, autoscaling:DescribeLifecycleHooks)')];
  const rows = hooks.missingGroups.map((g) => fail(`group '${g}'`, `Auto Scaling group not found in ${settings.region}`, 'check the name in --target-scaling-groups and --region'));
  if (hooks.scanned && hooks.groups.length === 0) {
    rows.push(fail('lifecycle hooks', `no Auto Scaling group has a hook '${settings.hookName}' notifying '${settings.queueName}'`, `enroll the groups: ${enrollCommand(settings)}`));
  }
  for (const group of hooks.groups) rows.push(...checksForHook(settings, group));
  return rows;
}

function checksForHook(settings: FixSettings, { autoScalingGroupName: group, hook }: GroupHook): CheckResult[] {
  const name = `hook on '${group}'`;
  const role = arnName(hook?.roleArn);
  if (!hook) return [fail(name, `no lifecycle hook '${settings.hookName}'`, enrollCommand(settings, { groups: [group] }))];
  const target = arnName(hook.notificationTargetArn);
  const rows: CheckResult[] = [];
  if (hook.lifecycleTransition !== TERMINATING_TRANSITION || target !== settings.queueName) {
    const what = hook.lifecycleTransition !== TERMINATING_TRANSITION ? `is for ${hook.lifecycleTransition}` : `notifies '${target ?? 'nothing'}', not '${settings.queueName}'`;
    rows.push(fail(name, `'${settings.hookName}' ${what}`, enrollCommand(settings, { groups: [group], heartbeatTimeoutSeconds: hook.heartbeatTimeoutSeconds, overwrite: true, ...(role ? { role } : {}) })));
  } else {
    rows.push(pass(name, `'${settings.hookName}' notifies '${settings.queueName}' on termination`));
  }
  const budget = totalBudgetSeconds(settings.drain);
  const needed = heartbeatTimeoutFor(budget);
  const timeoutName = `hook timeout on '${group}'`;
  if (hook.globalTimeoutSeconds >= budget) {
    rows.push(pass(timeoutName, `HeartbeatTimeout ${hook.heartbeatTimeoutSeconds}s: AWS keeps the action up to ${hook.globalTimeoutSeconds}s, the longest termination takes ${budget}s`));
  } else {
    rows.push(fail(timeoutName, `HeartbeatTimeout ${hook.heartbeatTimeoutSeconds}s: AWS ends the action after ${hook.globalTimeoutSeconds}s (applying ${hook.defaultResult}), before the longest termination (${budget}s) can finish`,
      needed ? `${enrollCommand(settings, { groups: [group], heartbeatTimeoutSeconds: needed, overwrite: true, ...(role ? { role } : {}) })}, or lower ${LOWER_BUDGET}`
        : `lower ${LOWER_BUDGET}: no hook can wait longer than 48h`));
  }
  const resultName = `default result on '${group}'`;
  if (hook.defaultResult === settings.expectedDefaultResult) {
    rows.push(pass(resultName, `${hook.defaultResult} when nobody completes the action in time`));
  } else {
    rows.push(fail(resultName, `${hook.defaultResult}, expected ${settings.expectedDefaultResult}${hook.defaultResult === 'ABANDON' ? ' (ABANDON skips the group\'s other termination hooks when serve is down)' : ''}`,
      enrollCommand(settings, { groups: [group], heartbeatTimeoutSeconds: hook.heartbeatTimeoutSeconds, overwrite: true, defaultResult: true, ...(role ? { role } : {}) })));
  }
  return rows;
}

const LOWER_BUDGET = '--node-join-timeout / --deregistration-timeout / --drain-timeout / --drain-retries / --drain-interval / --max-termination-grace-period';

/** Every wait a termination can make (late Node, load balancers, drain attempts and intervals, escalation) must fit. */
function budgetCheck(settings: DoctorSettings): CheckResult {
  const d = settings.drain;
  const budget = totalBudgetSeconds(d);
  const parts = budgetTerms(d).map((t) => t.what).join(', ');
  if (d.maxTimeToProcessSeconds >= budget) return pass('drain budget', `${budget}s (${parts}) fits --max-time-to-process ${d.maxTimeToProcessSeconds}s`);
  return fail('drain budget', `${budget}s (${parts}) exceeds --max-time-to-process ${d.maxTimeToProcessSeconds}s: serve refuses to start with it`,
    `run serve with --max-time-to-process ${budget} or more, or lower ${LOWER_BUDGET}`);
}

function iamCheck(facts: DoctorFacts): CheckResult {
  const name = 'IAM permissions';
  const iam = facts.iam;
  if (iam.kind === 'skipped') return skip(name, `not checked: ${iam.reason}`);
  if (iam.kind === 'principal-not-found') return fail(name, `IAM does not know ${iam.principal}: ${iam.detail}`, 'pass the ARN of the role serve runs as with --principal-arn');
  if (iam.denied.length === 0) return pass(name, `${iam.principal} may call all ${iam.checked.length} actions serve uses`);
  return fail(name, `${iam.principal} may not call ${iam.denied.join(', ')}`, `grant ${iam.denied.join(', ')} to ${iam.principal} (sqs actions on the queue's ARN, the others on "*")`);
}

function rbacChecks(facts: DoctorFacts): CheckResult[] {
  const rbac = facts.rbac;
  if (rbac.kind === 'failed') {
    return [fail('Kubernetes API', `cannot ask ${rbac.identity}: ${rbac.detail}`, 'give doctor the service\'s kubeconfig with --local-mode <path>, or run it inside the cluster')];
  }
  return rbac.results.map(({ permission, allowed }) => allowed
    ? pass(`RBAC: ${describePermission(permission)}`, `allowed for ${rbac.identity} (${permission.why})`)
    : fail(`RBAC: ${describePermission(permission)}`, `denied for ${rbac.identity} (${permission.why})`,
      permission.grantedBy === 'Role'
        ? `add ${ruleFor(permission)} to a Role in namespace ${permission.namespace} bound to ${rbac.identity} (the chart's rules: deploy/helm/lifecycle-manager/files/role-rules.yaml)`
        : `add ${ruleFor(permission)} to the ClusterRole bound to ${rbac.identity} (the chart's rules: deploy/helm/lifecycle-manager/files/clusterrole-rules.yaml)`));
}
