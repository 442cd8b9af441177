import { describe, expect, it } from 'vitest';
import { arnName, attributeDifferences, hookDifferences, notificationPolicyArn, trustPolicy, trustsAutoScaling } from './desired.js';

describe('desired state', () => {
  it('recognises trust policies that let Auto Scaling assume the role, in any of IAM\'s spellings', () => {
    expect(trustsAutoScaling(trustPolicy())).toBe(true);
    expect(trustsAutoScaling(JSON.stringify({ Statement: { Effect: 'Allow', Principal: { Service: ['ec2.amazonaws.com', 'autoscaling.amazonaws.com'] }, Action: ['sts:AssumeRole'] } }))).toBe(true);
    expect(trustsAutoScaling(JSON.stringify({ Statement: [{ Effect: 'Allow', Principal: { Service: 'ec2.amazonaws.com' }, Action: 'sts:AssumeRole' }] }))).toBe(false);
    expect(trustsAutoScaling(JSON.stringify({ Statement: [{ Effect: 'Deny', Principal: { Service: 'autoscaling.amazonaws.com' }, Action: 'sts:AssumeRole' }] }))).toBe(false);
    expect(trustsAutoScaling('not json')).toBe(false);
  });

  it('uses the partition of the region for the managed policy', () => {
    expect(notificationPolicyArn('us-east-1')).toBe('arn:aws:iam::aws:policy/service-role/AutoScalingNotificationAccessRole');
    expect(notificationPolicyArn('cn-north-1')).toBe('arn:aws-cn:iam::aws:policy/service-role/AutoScalingNotificationAccessRole');
    expect(notificationPolicyArn('us-gov-west-1')).toBe('arn:aws-us-gov:iam::aws:policy/service-role/AutoScalingNotificationAccessRole');
  });

  it('counts SSE-KMS as encrypted and compares redrive policies by meaning, not by text', () => {
    const queue = { name: 'q', url: 'u', arn: 'a', tags: {}, attributes: { KmsMasterKeyId: 'alias/aws/sqs', RedrivePolicy: '{"maxReceiveCount":"5","deadLetterTargetArn":"arn:x:q-dlq"}', VisibilityTimeout: '30' } };
    expect(attributeDifferences(queue, { SqsManagedSseEnabled: 'true', RedrivePolicy: JSON.stringify({ deadLetterTargetArn: 'arn:x:q-dlq', maxReceiveCount: 5 }), VisibilityTimeout: '60' }))
      .toEqual({ VisibilityTimeout: '60' });
  });

  it('names what differs in a hook, comparing the target and role by name', () => {
    const hook = { autoScalingGroupName: 'g', lifecycleHookName: 'lifecycle-manager', lifecycleTransition: 'autoscaling:EC2_INSTANCE_TERMINATING', heartbeatTimeoutSeconds: 300, globalTimeoutSeconds: 30000, defaultResult: 'ABANDON', notificationTargetArn: 'arn:aws:sqs:us-east-1:1:other', roleArn: 'arn:aws:iam::1:role/path/r' };
    expect(hookDifferences(hook, { lifecycleHookName: 'lifecycle-manager', heartbeatTimeoutSeconds: 300, defaultResult: 'CONTINUE', queueName: 'q', roleName: 'r' }))
      .toEqual(['DefaultResult ABANDON → CONTINUE', 'target other → q']);
    expect(arnName('arn:aws:iam::1:role/path/r')).toBe('r');
    expect(arnName(undefined)).toBeUndefined();
  });
});
