import { describe, expect, it } from 'vitest';
import { FakeAwsAdmin } from '../../test/unit/fakes/awsAdmin.js';
import { ConfigError } from '../lifecycle/errors.js';
import { type LogLevel, createLogger } from '../observability/logger.js';
import { applyEnrollment } from './apply.js';
import { trustPolicy } from './desired.js';
import type { EnrollSettings } from './enrollSettings.js';
import { observeInstallation } from './observe.js';
import { planEnrollment } from './plan.js';

const settings: EnrollSettings = {
  region: 'us-east-1', queueName: 'lm', roleName: 'lm-role', groupNames: ['a', 'b'], heartbeatTimeoutSeconds: 300,
  defaultResult: 'CONTINUE', hookName: 'lifecycle-manager', tags: { team: 'infra' }, overwrite: false, dryRun: false,
};
const FAST = { propagationTimeoutMs: 1_000, propagationBackoff: { minMs: 1, maxMs: 5 } };

async function enroll(aws: FakeAwsAdmin, overrides: Partial<EnrollSettings> = {}, options = FAST) {
  const s = { ...settings, ...overrides };
  const lines: string[] = [];
  const log = createLogger({ level: 'debug' as LogLevel, format: 'text', write: (l) => lines.push(l.replace(/^time="[^"]+" /u, '')) });
  const observed = await observeInstallation({ roleName: s.roleName, queueName: s.queueName, groupNames: s.groupNames, hookName: s.hookName }, aws, new AbortController().signal);
  const result = await applyEnrollment(planEnrollment(s, observed), s, aws, log, new AbortController().signal, options);
  return { result, lines };
}

describe('applyEnrollment', () => {
  it('creates role, policy, dead-letter queue, queue and hooks in that order, tagged, with upstream\'s log lines', async () => {
    const aws = new FakeAwsAdmin({ groups: ['a', 'b'] });
    const { result, lines } = await enroll(aws);

    expect(aws.mutations()).toEqual(['createRole lm-role', 'attachPolicy lm-role', 'createQueue lm-dlq', 'createQueue lm', 'putHook a', 'putHook b']);
    expect(aws.roles.get('lm-role')!.tags).toEqual({ team: 'infra', 'managed-by': 'lifecycle-manager' });
    const queue = aws.queueState.get('lm')!;
    expect(JSON.parse(queue.attributes['RedrivePolicy']!)).toEqual({ deadLetterTargetArn: aws.queueState.get('lm-dlq')!.arn, maxReceiveCount: 5 });
    expect(queue.attributes).toMatchObject({ SqsManagedSseEnabled: 'true', VisibilityTimeout: '60', MessageRetentionPeriod: '172800' });
    expect(aws.queueState.get('lm-dlq')!.tags).toEqual({ team: 'infra', 'managed-by': 'lifecycle-manager' });
    expect(aws.groups.get('a')!.get('lifecycle-manager')).toMatchObject({ heartbeatTimeoutSeconds: 300, defaultResult: 'CONTINUE', notificationTargetArn: queue.arn, roleArn: aws.roles.get('lm-role')!.arn });
    expect(result).toMatchObject({ queueUrl: queue.url, enrolledGroups: ['a', 'b'], leftAsTheyAre: [] });
    expect(lines).toEqual(expect.arrayContaining([
      'level=info msg="creating notification role \'lm-role\'"', 'level=info msg="creating SQS queue \'lm\'"',
      'level=info msg="creating lifecycle hook for \'a\'"', 'level=info msg="successfully enrolled 2 scaling groups"',
    ]));
  });

  it('changes nothing on a re-run and says what already exists', async () => {
    const aws = new FakeAwsAdmin({ groups: ['a', 'b'] });
    await enroll(aws);
    const before = aws.mutations().length;
    const { lines, result } = await enroll(aws);
    expect(aws.mutations().length).toBe(before);
    expect(result.enrolledGroups).toEqual(['a', 'b']);
    expect(lines.filter((l) => l.includes('already exists and is up to date'))).toHaveLength(5);
  });

  it('leaves differing resources alone without --overwrite (warning), and updates exactly what differs with it', async () => {
    const aws = new FakeAwsAdmin({ groups: ['a', 'b'] });
    await enroll(aws);
    aws.addQueue('lm', { ...aws.queueState.get('lm')!.attributes, VisibilityTimeout: '30' }, aws.queueState.get('lm')!.tags);
    const before = aws.mutations().length;

    const kept = await enroll(aws, { heartbeatTimeoutSeconds: 600 });
    expect(aws.mutations().length).toBe(before);
    expect(kept.result.leftAsTheyAre).toHaveLength(3); // the queue and two hooks
    expect(kept.result.enrolledGroups).toEqual(['a', 'b']); // they still notify the queue
    expect(kept.lines.some((l) => l.includes('level=warning') && l.includes('HeartbeatTimeout 300 → 600'))).toBe(true);

    await enroll(aws, { heartbeatTimeoutSeconds: 600, overwrite: true });
    expect(aws.mutations().slice(before)).toEqual(['setAttributes lm', 'putHook a', 'putHook b']);
    expect(aws.queueState.get('lm')!.attributes['VisibilityTimeout']).toBe('60');
    expect(aws.groups.get('b')!.get('lifecycle-manager')!.heartbeatTimeoutSeconds).toBe(600);
  });

  it('refuses to start when a group is missing, naming each one, and creates nothing', async () => {
    const aws = new FakeAwsAdmin({ groups: ['a'] });
    const error = await enroll(aws, { groupNames: ['a', 'x', 'y'] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems).toEqual(['Auto Scaling group "x" not found in region us-east-1', 'Auto Scaling group "y" not found in region us-east-1']);
    expect(aws.mutations()).toEqual([]);
  });

  it('refuses an existing role Auto Scaling cannot assume unless --overwrite, which replaces its trust policy', async () => {
    const aws = new FakeAwsAdmin({ groups: ['a'] });
    aws.addRole('lm-role', JSON.stringify({ Statement: [{ Effect: 'Allow', Principal: { Service: 'ec2.amazonaws.com' }, Action: 'sts:AssumeRole' }] }));
    const error = await enroll(aws, { groupNames: ['a'] }).catch((e: unknown) => e) as ConfigError;
    expect(error.problems).toEqual(['notification role "lm-role" exists but its trust policy does not let autoscaling.amazonaws.com assume it; re-run with --overwrite to replace the trust policy']);
    expect(aws.mutations()).toEqual([]);

    await enroll(aws, { groupNames: ['a'], overwrite: true });
    expect(aws.mutations()).toEqual(['updateTrustPolicy lm-role', 'tagRole lm-role', 'attachPolicy lm-role', 'createQueue lm-dlq', 'createQueue lm', 'putHook a']);
    expect(aws.roles.get('lm-role')!.trustPolicy).toBe(trustPolicy());
  });

  it('retries PutLifecycleHook while a new role propagates, then succeeds', async () => {
    const aws = new FakeAwsAdmin({ groups: ['a'] });
    aws.failPutHook = 3;
    const { lines } = await enroll(aws, { groupNames: ['a'] });
    expect(aws.calls.filter((c) => c === 'putHook a')).toHaveLength(4);
    expect(lines.filter((l) => l.includes('the role may still be propagating'))).toHaveLength(3);
    expect(aws.groups.get('a')!.has('lifecycle-manager')).toBe(true);
  });

  it('gives up after the propagation window with one line, and fails at once when nothing was just created', async () => {
    const aws = new FakeAwsAdmin({ groups: ['a'] });
    aws.failPutHook = 1_000_000;
    const timedOut = await enroll(aws, { groupNames: ['a'] }, { propagationTimeoutMs: 50, propagationBackoff: { minMs: 5, maxMs: 10 } }).catch((e: unknown) => e) as ConfigError;
    expect(timedOut.problems).toEqual([expect.stringMatching(/^failed to put lifecycle hook for 'a': Unable to publish test message .* \(still failing after 0s of retries\)$/u)]);

    const calls = aws.calls.filter((c) => c === 'putHook a').length;
    const stale = await enroll(aws, { groupNames: ['a'] }).catch((e: unknown) => e) as ConfigError;
    expect(aws.calls.filter((c) => c === 'putHook a').length).toBe(calls + 1);
    expect(stale.problems).toEqual(['failed to put lifecycle hook for \'a\': Unable to publish test message to notification target using IAM role']);
  });

  it('turns an AWS refusal into one line saying what failed and what was already created', async () => {
    const aws = new FakeAwsAdmin({ groups: ['a'] });
    aws.failOn = 'createQueue lm-dlq';
    const error = await enroll(aws, { groupNames: ['a'] }).catch((e: unknown) => e) as ConfigError;
    expect(error.problems).toEqual([
      'failed to create SQS queue: createQueue: AccessDenied: not today',
      'already created: IAM role \'lm-role\'; re-running enroll continues from there',
    ]);
  });
});
