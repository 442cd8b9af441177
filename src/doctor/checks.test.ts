import { describe, expect, it } from 'vitest';
import type { HookState, QueueState } from '../enrollment/ports.js';
import { describePermission, servicePermissions } from '../kube/permissions.js';
import { type CheckResult, evaluateInstallation } from './checks.js';
import type { DoctorSettings } from './doctorSettings.js';
import { heartbeatTimeoutFor, totalBudgetSeconds } from '../lifecycle/timeBudget.js';
import type { DoctorFacts } from './facts.js';
import { renderReport } from './report.js';

const settings: DoctorSettings = {
  region: 'us-east-1', queueName: 'lm', groupNames: ['a'], hookName: 'lifecycle-manager', expectedDefaultResult: 'CONTINUE',
  principalArn: undefined, localMode: '', leaseNamespace: 'lifecycle-manager',
  drain: { drainTimeoutSeconds: 300, drainRetries: 3, drainIntervalSeconds: 30, maxTerminationGracePeriodSeconds: 900, maxTimeToProcessSeconds: 3600, nodeJoinTimeoutSeconds: 120, deregistrationTimeoutSeconds: 600 },
  visibilityTimeoutSeconds: 60, pollingIntervalSeconds: 10, withDeregister: true, deregisterTargetTypes: ['target-group', 'classic-elb'], clusterName: undefined, launch: undefined,
};
const ARN = 'arn:aws:sqs:us-east-1:123456789012:';
const KUBE = servicePermissions('lifecycle-manager');
const queue = (name: string, attributes: Record<string, string>): QueueState => ({ name, url: `https://q/${name}`, arn: `${ARN}${name}`, tags: {}, attributes });
const hook: HookState = {
  autoScalingGroupName: 'a', lifecycleHookName: 'lifecycle-manager', lifecycleTransition: 'autoscaling:EC2_INSTANCE_TERMINATING', heartbeatTimeoutSeconds: 300,
  globalTimeoutSeconds: 30000, defaultResult: 'CONTINUE', notificationTargetArn: `${ARN}lm`, roleArn: 'arn:aws:iam::123456789012:role/lm-role',
};
const healthy: DoctorFacts = {
  queue: { kind: 'found', value: queue('lm', { MessageRetentionPeriod: '172800', RedrivePolicy: JSON.stringify({ deadLetterTargetArn: `${ARN}lm-dlq`, maxReceiveCount: 5 }) }) },
  deadLetterQueue: { kind: 'found', value: queue('lm-dlq', { MessageRetentionPeriod: '1209600' }) },
  hooks: { kind: 'listed', groups: [{ autoScalingGroupName: 'a', hook }], missingGroups: [], scanned: false },
  iam: { kind: 'simulated', principal: 'arn:aws:iam::123456789012:role/serve', checked: ['sqs:ReceiveMessage'], denied: [] },
  rbac: { kind: 'reviewed', identity: 'kubeconfig context \'svc\'', results: KUBE.map((permission) => ({ permission, allowed: true })) },
};

const failures = (results: CheckResult[]) => results.filter((r) => r.status === 'fail');
const row = (results: CheckResult[], check: string) => results.find((r) => r.check === check);

describe('evaluateInstallation', () => {
  it('with --launch-hooks checks each group\'s launch hook: present, for launches, notifying the queue, longer than --launch-timeout, CONTINUE by default', () => {
    const launch = { hookName: 'lifecycle-manager-launch', timeoutSeconds: 600 };
    const launchHook: HookState = { ...hook, lifecycleHookName: 'lifecycle-manager-launch', lifecycleTransition: 'autoscaling:EC2_INSTANCE_LAUNCHING' };
    const withLaunch = (h: HookState | undefined): DoctorFacts => ({ ...healthy, launchHooks: { kind: 'listed', groups: [{ autoScalingGroupName: 'a', hook: h }], missingGroups: [], scanned: false } });
    const good = evaluateInstallation({ ...settings, launch }, withLaunch(launchHook));
    expect(failures(good)).toEqual([]);
    expect(good.filter((r) => r.check.startsWith('launch')).map((r) => r.check)).toEqual(['launch hook on \'a\'', 'launch hook timeout on \'a\'', 'launch default result on \'a\'']);
    expect(row(evaluateInstallation({ ...settings, launch }, withLaunch(undefined)), 'launch hook on \'a\'')).toEqual({ status: 'fail', check: 'launch hook on \'a\'',
      detail: 'no lifecycle hook \'lifecycle-manager-launch\': serve --launch-hooks never sees this group\'s launches',
      fix: 'lifecycle-manager enroll --region us-east-1 --queue-name lm --notification-role-name lm-role --target-scaling-groups a --launch-hook' });
    const short = evaluateInstallation({ ...settings, launch }, withLaunch({ ...launchHook, heartbeatTimeoutSeconds: 5, globalTimeoutSeconds: 500 }));
    expect(row(short, 'launch hook timeout on \'a\'')).toMatchObject({ status: 'fail', detail: 'AWS ends a launch after 500s (applying CONTINUE), before --launch-timeout 600s plus 30s to complete' });
    expect(row(evaluateInstallation({ ...settings, launch }, withLaunch({ ...launchHook, defaultResult: 'ABANDON' })), 'launch default result on \'a\'')?.status).toBe('fail');
    expect(row(evaluateInstallation({ ...settings, launch }, withLaunch(hook)), 'launch hook on \'a\'')?.detail).toBe('\'lifecycle-manager-launch\' is for autoscaling:EC2_INSTANCE_TERMINATING');
    // Without --launch-hooks nothing about launch hooks is reported.
    expect(evaluateInstallation(settings, withLaunch(undefined)).filter((r) => r.check.startsWith('launch'))).toEqual([]);
  });

  it('passes every check of a healthy installation', () => {
    const results = evaluateInstallation(settings, healthy);
    expect(failures(results)).toEqual([]);
    expect(results.map((r) => r.check)).toEqual([
      'SQS queue', 'visibility timeout', 'dead-letter queue', 'hook on \'a\'', 'hook timeout on \'a\'', 'default result on \'a\'', 'drain budget', 'IAM permissions',
      ...KUBE.map((p) => `RBAC: ${describePermission(p)}`),
    ]);
  });

  it('fails a missing queue with the enroll command that creates it, and skips what depends on it', () => {
    const results = evaluateInstallation(settings, { ...healthy, queue: { kind: 'missing' }, deadLetterQueue: undefined });
    expect(row(results, 'SQS queue')).toEqual({ status: 'fail', check: 'SQS queue', detail: '\'lm\' does not exist in us-east-1',
      fix: 'create it with: lifecycle-manager enroll --region us-east-1 --queue-name lm --notification-role-name lm-role --target-scaling-groups a' });
    expect(row(results, 'dead-letter queue')?.status).toBe('skip');
  });

  it('fails a hook whose global timeout is shorter than the drain budget and names the HeartbeatTimeout that fits', () => {
    const short = { ...hook, heartbeatTimeoutSeconds: 10, globalTimeoutSeconds: 1000 };
    const results = evaluateInstallation(settings, { ...healthy, hooks: { kind: 'listed', groups: [{ autoScalingGroupName: 'a', hook: short }], missingGroups: [], scanned: false } });
    // The longest termination: a late Node, the load-balancer wait, every attempt and interval, the escalation, completion.
    expect(totalBudgetSeconds(settings.drain)).toBe(120 + 600 + 3 * 300 + 2 * 30 + 900 + 30 + 45);
    expect(heartbeatTimeoutFor(2655)).toBe(30);
    expect(row(results, 'hook timeout on \'a\'')).toMatchObject({ status: 'fail', fix: expect.stringContaining('--heartbeat-timeout 30 --overwrite') });
    // A message of a crashed replica (60s + 10s) would come back after a 10s hook could have expired.
    expect(row(results, 'visibility timeout')).toMatchObject({ status: 'fail', fix: expect.stringContaining('--heartbeat-timeout 142') });
  });

  it('fails ABANDON when CONTINUE is expected, keeping the hook\'s HeartbeatTimeout in the fix', () => {
    const results = evaluateInstallation(settings, { ...healthy, hooks: { kind: 'listed', groups: [{ autoScalingGroupName: 'a', hook: { ...hook, defaultResult: 'ABANDON', heartbeatTimeoutSeconds: 600 } }], missingGroups: [], scanned: false } });
    expect(row(results, 'default result on \'a\'')).toMatchObject({
      status: 'fail',
      fix: 'lifecycle-manager enroll --region us-east-1 --queue-name lm --notification-role-name lm-role --target-scaling-groups a --heartbeat-timeout 600 --default-result CONTINUE --overwrite',
    });
  });

  it('judges the redrive: missing, too few receives, a dead-letter queue that forgets sooner than the queue', () => {
    const noRedrive = evaluateInstallation(settings, { ...healthy, queue: { kind: 'found', value: queue('lm', {}) }, deadLetterQueue: undefined });
    expect(row(noRedrive, 'dead-letter queue')).toMatchObject({ status: 'fail', detail: expect.stringContaining('no redrive policy') });
    const once = evaluateInstallation(settings, { ...healthy, queue: { kind: 'found', value: queue('lm', { RedrivePolicy: JSON.stringify({ deadLetterTargetArn: `${ARN}lm-dlq`, maxReceiveCount: 1 }) }) } });
    expect(row(once, 'dead-letter queue')).toMatchObject({ status: 'fail', detail: expect.stringContaining('maxReceiveCount 1') });
    const forgetful = evaluateInstallation(settings, { ...healthy, deadLetterQueue: { kind: 'found', value: queue('lm-dlq', { MessageRetentionPeriod: '60' }) } });
    expect(row(forgetful, 'dead-letter queue')).toMatchObject({ status: 'fail', fix: 'raise MessageRetentionPeriod of \'lm-dlq\' to 172800 or more' });
  });

  it('fails a drain budget larger than --max-time-to-process, counting the node-join wait, the load-balancer wait and the drain intervals', () => {
    const results = evaluateInstallation({ ...settings, drain: { ...settings.drain, maxTimeToProcessSeconds: 1900 } }, healthy);
    expect(row(results, 'drain budget')).toMatchObject({ status: 'fail', fix: expect.stringContaining('--max-time-to-process 2655') });
    expect(row(results, 'drain budget')?.detail).toMatch(/120s for a late Node .*600s load-balancer wait .*2×30s between attempts/u);
  });

  it('fails a shared queue whose redrive policy cannot survive the clusters sharing it, naming the count that does', () => {
    const shared = { ...settings, clusterName: 'blue' };
    const three = evaluateInstallation(shared, { ...healthy, sharingClusters: ['blue', 'green', 'red'] });
    expect(row(three, 'dead-letter queue')).toMatchObject({ status: 'fail', detail: expect.stringContaining('maxReceiveCount 5 on a queue shared by 3 clusters (blue, green, red)'), fix: expect.stringMatching(/^set maxReceiveCount to 28 or more/u) });
    // Told it is shared (--cluster-name) but seeing no other cluster yet: at least two share it.
    expect(row(evaluateInstallation(shared, { ...healthy, sharingClusters: ['blue'] }), 'dead-letter queue')?.fix).toMatch(/^set maxReceiveCount to 19 or more/u);
    const roomy = { ...healthy, queue: { kind: 'found' as const, value: queue('lm', { MessageRetentionPeriod: '172800', RedrivePolicy: JSON.stringify({ deadLetterTargetArn: `${ARN}lm-dlq`, maxReceiveCount: 28 }) }) } };
    expect(row(evaluateInstallation(shared, { ...roomy, sharingClusters: ['blue', 'green', 'red'] }), 'dead-letter queue')?.status).toBe('pass');
    expect(row(evaluateInstallation(settings, { ...healthy, sharingClusters: ['blue', 'green', 'red'] }), 'dead-letter queue')?.status).toBe('pass');
  });

  it('skips (never fails) the IAM check when the simulation is unavailable, and fails denied actions', () => {
    const skipped = evaluateInstallation(settings, { ...healthy, iam: { kind: 'skipped', reason: 'iam:SimulatePrincipalPolicy is not available at this endpoint (HTTP 500)' } });
    expect(row(skipped, 'IAM permissions')).toEqual({ status: 'skip', check: 'IAM permissions', detail: 'not checked: iam:SimulatePrincipalPolicy is not available at this endpoint (HTTP 500)' });
    expect(failures(skipped)).toEqual([]);
    const denied = evaluateInstallation(settings, { ...healthy, iam: { kind: 'simulated', principal: 'arn:r', checked: ['a', 'b'], denied: ['sqs:DeleteMessage'] } });
    expect(row(denied, 'IAM permissions')).toMatchObject({ status: 'fail', fix: expect.stringContaining('grant sqs:DeleteMessage to arn:r') });
  });

  it('fails each denied Kubernetes permission with the RBAC rule that grants it', () => {
    const results = evaluateInstallation(settings, { ...healthy, rbac: { kind: 'reviewed', identity: 'kubeconfig context \'limited\'', results: KUBE.map((permission) => ({ permission, allowed: permission.verb !== 'delete' })) } });
    expect(failures(results).map((r) => r.check)).toEqual(['RBAC: delete nodes', 'RBAC: delete pods', 'RBAC: delete leases in lifecycle-manager']);
    expect(row(results, 'RBAC: delete leases in lifecycle-manager')?.fix).toMatch(/^add \{apiGroups: \["coordination.k8s.io"\], resources: \["leases"\], verbs: \["delete"\]\} to a Role in namespace lifecycle-manager bound to /u);
    expect(row(results, 'RBAC: delete nodes')?.fix).toBe('add {apiGroups: [""], resources: ["nodes"], verbs: ["delete"]} to the ClusterRole bound to kubeconfig context \'limited\' (the chart\'s rules: deploy/helm/lifecycle-manager/files/clusterrole-rules.yaml)');
  });

  it('renders a table with a fix line under each failure and a summary', () => {
    const lines = renderReport(evaluateInstallation(settings, { ...healthy, queue: { kind: 'missing' }, deadLetterQueue: undefined }));
    expect(lines[1]).toMatch(/^✗ {2}SQS queue +'lm' does not exist in us-east-1$/u);
    expect(lines[2]).toMatch(/^ +fix: create it with: lifecycle-manager enroll /u);
    expect(lines.some((l) => l.startsWith('–  dead-letter queue'))).toBe(true);
    expect(lines.at(-1)).toBe(`${8 + KUBE.length} checks: ${6 + KUBE.length} passed, 1 failed, 1 skipped`);
  });
});
