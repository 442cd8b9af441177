import { describe, expect, it } from 'vitest';
import { FakeAwsAdmin } from '../../test/unit/fakes/awsAdmin.js';
import { silentLogger } from '../observability/logger.js';
import { notificationPolicyArn, trustPolicy } from './desired.js';
import { runUnenroll } from './unenroll.js';
import type { UnenrollSettings } from './unenrollSettings.js';

const settings: UnenrollSettings = {
  region: 'us-east-1', groupNames: ['a', 'b', 'gone'], hookName: 'lifecycle-manager', launchHookName: 'lifecycle-manager-launch', queueName: 'lm', roleName: 'lm-role',
  deleteQueue: false, deleteRole: false, dryRun: false,
};
const ARN = 'arn:aws:sqs:us-east-1:123456789012:';

function installed(): FakeAwsAdmin {
  const aws = new FakeAwsAdmin();
  aws.addRole('lm-role', trustPolicy(), [notificationPolicyArn('us-east-1')]);
  aws.addQueue('lm-dlq', {}, { 'managed-by': 'lifecycle-manager' });
  aws.addQueue('lm', { RedrivePolicy: JSON.stringify({ deadLetterTargetArn: `${ARN}lm-dlq`, maxReceiveCount: 5 }) });
  aws.addHook({ autoScalingGroupName: 'a', notificationTargetArn: `${ARN}lm` });
  aws.addHook({ autoScalingGroupName: 'b', notificationTargetArn: `${ARN}other-cluster` });
  return aws;
}

const run = (aws: FakeAwsAdmin, s: Partial<UnenrollSettings> = {}) => runUnenroll({ ...settings, ...s }, aws, silentLogger, new AbortController().signal);

describe('runUnenroll', () => {
  it('removes the launch hook (enroll --launch-hook) with the termination hook, so no launch waits on a queue that is gone', async () => {
    const aws = installed();
    aws.addHook({ autoScalingGroupName: 'a', lifecycleHookName: 'lifecycle-manager-launch', lifecycleTransition: 'autoscaling:EC2_INSTANCE_LAUNCHING', notificationTargetArn: `${ARN}lm` });
    expect(await run(aws)).toEqual({ removedHooks: ['a'], deletedQueues: [], deletedRole: false });
    expect(aws.mutations()).toEqual(['deleteHook a', 'deleteHook a']);
    expect(aws.groups.get('a')!.size).toBe(0);
  });

  it('removes only the hooks that notify this queue and keeps queue and role unless asked', async () => {
    const aws = installed();
    expect(await run(aws)).toEqual({ removedHooks: ['a'], deletedQueues: [], deletedRole: false });
    expect(aws.mutations()).toEqual(['deleteHook a']);
    expect(aws.groups.get('b')!.size).toBe(1);
  });

  it('deletes the queue, its dead-letter queue and the role when asked, and is a no-op the second time', async () => {
    const aws = installed();
    expect(await run(aws, { deleteQueue: true, deleteRole: true })).toEqual({ removedHooks: ['a'], deletedQueues: ['lm', 'lm-dlq'], deletedRole: true });
    expect(aws.mutations()).toEqual(['deleteHook a', 'deleteQueue lm', 'deleteQueue lm-dlq', 'detachPolicy lm-role', 'deleteRole lm-role']);
    const before = aws.mutations().length;
    expect(await run(aws, { deleteQueue: true, deleteRole: true })).toEqual({ removedHooks: [], deletedQueues: [], deletedRole: false });
    expect(aws.mutations().length).toBe(before);
  });

  it('keeps a role that carries other policies, and a -dlq queue that is not ours', async () => {
    const aws = installed();
    aws.addRole('lm-role', trustPolicy(), [notificationPolicyArn('us-east-1'), 'arn:aws:iam::1:policy/other']);
    aws.addQueue('lm', {});
    aws.addQueue('lm-dlq', {}, {});
    expect(await run(aws, { deleteQueue: true, deleteRole: true })).toMatchObject({ deletedQueues: ['lm'], deletedRole: false });
    expect(aws.roles.has('lm-role')).toBe(true);
    expect(aws.queueState.has('lm-dlq')).toBe(true);
  });

  it('changes nothing in a dry run', async () => {
    const aws = installed();
    expect(await run(aws, { deleteQueue: true, deleteRole: true, dryRun: true })).toEqual({ removedHooks: ['a'], deletedQueues: ['lm', 'lm-dlq'], deletedRole: true });
    expect(aws.mutations()).toEqual([]);
  });
});
