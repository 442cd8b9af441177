import { describe, expect, it } from 'vitest';
import { FakeAwsAdmin } from '../../test/unit/fakes/awsAdmin.js';
import { notificationPolicyArn, queueAttributes, trustPolicy } from './desired.js';
import type { EnrollSettings } from './enrollSettings.js';
import { observeInstallation } from './observe.js';
import { describePlan, planEnrollment, siblingArn } from './plan.js';

const settings: EnrollSettings = {
  region: 'us-east-1', queueName: 'lm', roleName: 'lm-role', groupNames: ['a', 'b'], heartbeatTimeoutSeconds: 300,
  defaultResult: 'CONTINUE', hookName: 'lifecycle-manager', tags: {}, overwrite: false, dryRun: true, clusterName: undefined, launchHookName: undefined,
};

async function plan(aws: FakeAwsAdmin, s: EnrollSettings = settings) {
  const observed = await observeInstallation({ roleName: s.roleName, queueName: s.queueName, groupNames: s.groupNames, hookName: s.hookName, clusterName: s.clusterName, launchHookName: s.launchHookName }, aws, new AbortController().signal);
  return planEnrollment(s, observed);
}

describe('planEnrollment', () => {
  it('with --launch-hook plans a launch hook per group too, DefaultResult CONTINUE whatever --default-result says, and keeps one that is up to date', async () => {
    const aws = new FakeAwsAdmin({ groups: ['a', 'b'] });
    aws.addHook({ autoScalingGroupName: 'b', lifecycleHookName: 'lm-launch', lifecycleTransition: 'autoscaling:EC2_INSTANCE_LAUNCHING', defaultResult: 'CONTINUE', notificationTargetArn: 'arn:aws:sqs:us-east-1:123456789012:lm', roleArn: 'arn:aws:iam::123456789012:role/lm-role' });
    const s = { ...settings, defaultResult: 'ABANDON' as const, launchHookName: 'lm-launch' };
    const p = await plan(aws, s);
    expect(p.hooks.map((h) => [h.lifecycleHookName, h.action, h.defaultResult])).toEqual([['lifecycle-manager', 'create', 'ABANDON'], ['lifecycle-manager', 'create', 'ABANDON']]);
    expect(p.launchHooks.map((h) => [h.autoScalingGroupName, h.lifecycleHookName, h.lifecycleTransition, h.action, h.defaultResult])).toEqual([
      ['a', 'lm-launch', 'autoscaling:EC2_INSTANCE_LAUNCHING', 'create', 'CONTINUE'],
      ['b', 'lm-launch', 'autoscaling:EC2_INSTANCE_LAUNCHING', 'keep', 'CONTINUE'],
    ]);
    expect(describePlan(p, s).slice(-2)).toEqual([
      'create lifecycle hook \'lm-launch\' on \'a\' (autoscaling:EC2_INSTANCE_LAUNCHING, HeartbeatTimeout 300s, DefaultResult CONTINUE, notifying \'lm\')',
      'keep lifecycle hook \'lm-launch\' on \'b\' (exists, up to date)',
    ]);
    // Without --launch-hook no launch hook is looked at or planned.
    expect((await plan(aws)).launchHooks).toEqual([]);
  });

  it('plans a fresh installation and describes it without touching AWS (dry run)', async () => {
    const aws = new FakeAwsAdmin({ groups: ['a', 'b'] });
    const p = await plan(aws);
    expect([p.role.action, p.policy.action, p.deadLetterQueue.action, p.queue.action, ...p.hooks.map((h) => h.action)]).toEqual(['create', 'create', 'create', 'create', 'create', 'create']);
    expect(describePlan(p, settings)).toEqual([
      'create IAM role \'lm-role\' trusted by autoscaling.amazonaws.com (tags managed-by=lifecycle-manager)',
      `attach policy '${notificationPolicyArn('us-east-1')}' to role 'lm-role'`,
      'create SQS queue \'lm-dlq\' (dead-letter queue, SSE-SQS, retention 1209600s, tags managed-by=lifecycle-manager)',
      'create SQS queue \'lm\' (visibility timeout 60s, retention 172800s, SSE-SQS, redrive to \'lm-dlq\' after 5 receives, tags managed-by=lifecycle-manager)',
      'create lifecycle hook \'lifecycle-manager\' on \'a\' (autoscaling:EC2_INSTANCE_TERMINATING, HeartbeatTimeout 300s, DefaultResult CONTINUE, notifying \'lm\')',
      'create lifecycle hook \'lifecycle-manager\' on \'b\' (autoscaling:EC2_INSTANCE_TERMINATING, HeartbeatTimeout 300s, DefaultResult CONTINUE, notifying \'lm\')',
    ]);
    expect(aws.mutations()).toEqual([]);
  });

  it('upgrades an upstream installation: queue without dead-letter queue, hook left at ABANDON notifying the same queue', async () => {
    const aws = new FakeAwsAdmin();
    aws.addRole('lm-role', trustPolicy(), [notificationPolicyArn('us-east-1')], { 'managed-by': 'lifecycle-manager' });
    aws.addQueue('lm', {}, { 'managed-by': 'lifecycle-manager' });
    aws.addHook({ autoScalingGroupName: 'a', defaultResult: 'ABANDON', notificationTargetArn: 'arn:aws:sqs:us-east-1:123456789012:lm', roleArn: 'arn:aws:iam::123456789012:role/lm-role' });
    aws.addHook({ autoScalingGroupName: 'b', notificationTargetArn: 'arn:aws:sqs:us-east-1:123456789012:someone-else', roleArn: 'arn:aws:iam::123456789012:role/lm-role' });
    const p = await plan(aws);
    expect(p.role.action).toBe('keep');
    expect(p.policy.action).toBe('keep');
    expect(p.deadLetterQueue.action).toBe('create');
    // The dead-letter queue's future ARN follows from the queue's: the redrive difference is known before it exists.
    expect(p.queue).toMatchObject({ action: 'differs' });
    expect(p.queue.changes).toEqual(['VisibilityTimeout 30 → 60', 'MessageRetentionPeriod 345600 → 172800', 'SqsManagedSseEnabled unset → true', 'RedrivePolicy unset → lm-dlq after 5 receives']);
    expect(p.hooks).toEqual([
      { action: 'differs', autoScalingGroupName: 'a', lifecycleHookName: 'lifecycle-manager', lifecycleTransition: 'autoscaling:EC2_INSTANCE_TERMINATING', defaultResult: 'CONTINUE', changes: ['DefaultResult ABANDON → CONTINUE'], notifiesQueue: true },
      { action: 'differs', autoScalingGroupName: 'b', lifecycleHookName: 'lifecycle-manager', lifecycleTransition: 'autoscaling:EC2_INSTANCE_TERMINATING', defaultResult: 'CONTINUE', changes: ['target someone-else → lm'], notifiesQueue: false },
    ]);
    expect(p.problems).toEqual([]);
    const overwrite = await plan(aws, { ...settings, overwrite: true });
    expect([overwrite.queue.action, ...overwrite.hooks.map((h) => h.action)]).toEqual(['update', 'update', 'update']);
  });

  it('knows a queue already redriving to its dead-letter queue is up to date', async () => {
    const aws = new FakeAwsAdmin({ groups: ['a'] });
    aws.addQueue('lm-dlq', { MessageRetentionPeriod: '1209600', SqsManagedSseEnabled: 'true' }, { 'managed-by': 'lifecycle-manager' });
    aws.addQueue('lm', { ...queueAttributes(aws.queueState.get('lm-dlq')!.arn), SqsManagedSseEnabled: 'true' }, { 'managed-by': 'lifecycle-manager' });
    const p = await plan(aws, { ...settings, groupNames: ['a'] });
    expect([p.deadLetterQueue.action, p.queue.action]).toEqual(['keep', 'keep']);
    expect(siblingArn('arn:aws:sqs:us-east-1:123456789012:lm', 'lm-dlq')).toBe('arn:aws:sqs:us-east-1:123456789012:lm-dlq');
  });

  it('sizes the redrive policy of a queue shared between clusters (--cluster-name) for every cluster whose hooks notify it', async () => {
    const aws = new FakeAwsAdmin({ groups: ['a', 'b'] });
    aws.tags.set('a', { 'kubernetes.io/cluster/blue': 'owned' });
    // Two other clusters already send their hooks to the same queue.
    aws.addHook({ autoScalingGroupName: 'green-nodes', notificationTargetArn: 'arn:aws:sqs:us-east-1:123456789012:lm' });
    aws.tags.set('green-nodes', { 'eks:cluster-name': 'green' });
    aws.addHook({ autoScalingGroupName: 'red-nodes', notificationTargetArn: 'arn:aws:sqs:us-east-1:123456789012:lm' });
    aws.tags.set('red-nodes', { 'kubernetes.io/cluster/red': 'shared' });
    aws.addHook({ autoScalingGroupName: 'elsewhere', notificationTargetArn: 'arn:aws:sqs:us-east-1:123456789012:other-queue' });
    aws.tags.set('elsewhere', { 'kubernetes.io/cluster/purple': 'owned' });
    const shared = await plan(aws, { ...settings, clusterName: 'blue' });
    expect(shared.sharingClusters).toEqual(['blue', 'green', 'red']);
    expect(shared.maxReceiveCount).toBe(28);
    expect(describePlan(shared, settings).find((l) => l.startsWith('create SQS queue \'lm\''))).toMatch(/redrive to 'lm-dlq' after 28 receives, sized for 3 clusters sharing it/u);
    // Without --cluster-name the queue is this cluster's alone, and nothing else is read.
    const alone = await plan(aws);
    expect(alone.maxReceiveCount).toBe(5);
  });
});
