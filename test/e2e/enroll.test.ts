import { randomBytes } from 'node:crypto';
import { DescribeLifecycleHooksCommand, type LifecycleHook } from '@aws-sdk/client-auto-scaling';
import { GetRoleCommand, IAMClient, ListAttachedRolePoliciesCommand } from '@aws-sdk/client-iam';
import { GetQueueAttributesCommand, GetQueueUrlCommand, ListQueueTagsCommand, ReceiveMessageCommand, SetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { describe, expect, inject, it } from 'vitest';
import { testAwsClients } from '../harness/awsClients.js';
import { createEmptyGroups } from '../harness/autoScalingGroups.js';
import { runCli } from '../harness/cli.js';
import { REGION, motoAwsEnv } from '../harness/moto.js';

const info = inject('harness');
const aws = testAwsClients(info.motoEndpoint);
const iam = new IAMClient({ endpoint: info.motoEndpoint, region: REGION, credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
const cli = (...args: string[]) => runCli(info.repoRoot, args, motoAwsEnv(info.motoEndpoint));
const NOTIFICATION_POLICY = 'arn:aws:iam::aws:policy/service-role/AutoScalingNotificationAccessRole';

/** Fresh names for one installation, and two empty groups. */
async function installation(groups = 2) {
  const id = randomBytes(4).toString('hex');
  return { queue: `lm-enroll-${id}`, role: `lm-notify-${id}`, groups: await createEmptyGroups(aws, groups, `asg-enroll-${id}`) };
}

const enrollArgs = (i: { queue: string; role: string; groups: string[] }, ...extra: string[]) =>
  ['enroll', '--region', REGION, '--queue-name', i.queue, '--notification-role-name', i.role, '--target-scaling-groups', i.groups.join(','), ...extra];

async function hookOf(group: string): Promise<LifecycleHook | undefined> {
  return (await aws.autoScaling.send(new DescribeLifecycleHooksCommand({ AutoScalingGroupName: group }))).LifecycleHooks?.find((h) => h.LifecycleHookName === 'lifecycle-manager');
}
async function queueUrl(name: string): Promise<string | undefined> {
  return aws.sqs.send(new GetQueueUrlCommand({ QueueName: name })).then((o) => o.QueueUrl, () => undefined);
}
async function roleExists(name: string): Promise<boolean> {
  return iam.send(new GetRoleCommand({ RoleName: name })).then(() => true, (e: { name?: string }) => {
    if (e.name === 'NoSuchEntityException') return false;
    throw e;
  });
}

describe('enroll', () => {
  it('creates the role, the encrypted queue with its dead-letter queue, and a hook on each group, then prints the serve command', async () => {
    const i = await installation();
    const run = await cli(...enrollArgs(i, '--heartbeat-timeout', '120', '--tags', 'team=infra'));
    expect(run.code).toBe(0);

    // The role: trusted by Auto Scaling, with the notification policy, tagged.
    const role = (await iam.send(new GetRoleCommand({ RoleName: i.role }))).Role!;
    expect(JSON.parse(decodeURIComponent(role.AssumeRolePolicyDocument!))).toEqual({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { Service: 'autoscaling.amazonaws.com' }, Action: 'sts:AssumeRole' }] });
    expect((await iam.send(new ListAttachedRolePoliciesCommand({ RoleName: i.role }))).AttachedPolicies?.map((p) => p.PolicyArn)).toEqual([NOTIFICATION_POLICY]);
    expect(Object.fromEntries((role.Tags ?? []).map((t) => [t.Key, t.Value]))).toEqual({ 'managed-by': 'lifecycle-manager', team: 'infra' });

    // The queue: SSE-SQS, 60s visibility, redrive to <queue>-dlq after 5 receives; both tagged.
    const url = (await queueUrl(i.queue))!;
    const dlqUrl = (await queueUrl(`${i.queue}-dlq`))!;
    const attributes = (await aws.sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['All'] }))).Attributes!;
    const dlqAttributes = (await aws.sqs.send(new GetQueueAttributesCommand({ QueueUrl: dlqUrl, AttributeNames: ['All'] }))).Attributes!;
    expect(attributes).toMatchObject({ SqsManagedSseEnabled: 'true', VisibilityTimeout: '60', MessageRetentionPeriod: '172800' });
    expect(JSON.parse(attributes['RedrivePolicy']!)).toEqual({ deadLetterTargetArn: dlqAttributes['QueueArn'], maxReceiveCount: 5 });
    expect(dlqAttributes).toMatchObject({ SqsManagedSseEnabled: 'true', MessageRetentionPeriod: '1209600' });
    for (const u of [url, dlqUrl]) expect((await aws.sqs.send(new ListQueueTagsCommand({ QueueUrl: u }))).Tags).toEqual({ 'managed-by': 'lifecycle-manager', team: 'infra' });

    // A termination hook per group, notifying the queue through the role; AWS's test notification arrived.
    for (const group of i.groups) {
      expect(await hookOf(group)).toMatchObject({
        LifecycleTransition: 'autoscaling:EC2_INSTANCE_TERMINATING', HeartbeatTimeout: 120, DefaultResult: 'CONTINUE',
        NotificationTargetARN: attributes['QueueArn'], RoleARN: role.Arn,
      });
    }
    const received = await aws.sqs.send(new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));
    expect((received.Messages ?? []).map((m) => (JSON.parse(m.Body!) as { Event?: string }).Event)).toEqual(['autoscaling:TEST_NOTIFICATION', 'autoscaling:TEST_NOTIFICATION']);

    // Upstream's log lines on stderr; the result and the next step on stdout.
    expect(run.errorLines.map((l) => /msg="([^"]*)"/u.exec(l)?.[1])).toEqual([
      `creating notification role '${i.role}'`, `attaching notification policy '${NOTIFICATION_POLICY}'`, `created notification role '${role.Arn}'`,
      `creating SQS queue '${i.queue}-dlq'`, `created queue '${dlqAttributes['QueueArn']}'`, `creating SQS queue '${i.queue}'`, `created queue '${attributes['QueueArn']}'`,
      `creating lifecycle hook for '${i.groups[0]}'`, `creating lifecycle hook for '${i.groups[1]}'`, 'successfully enrolled 2 scaling groups',
    ]);
    expect(run.stdout).toContain(`Queue Name: ${i.queue}\nQueue URL: ${url}\n`);
    expect(run.stdout).toContain(`lifecycle-manager serve --region ${REGION} --queue-name ${i.queue}\n`);
  });

  it('is idempotent: a re-run changes nothing and reports what already exists', async () => {
    const i = await installation();
    expect((await cli(...enrollArgs(i))).code).toBe(0);
    const hooksBefore = await Promise.all(i.groups.map(hookOf));

    const again = await cli(...enrollArgs(i));
    expect(again.code).toBe(0);
    expect(again.stderr).not.toMatch(/creating|updating/u);
    expect(again.errorLines.filter((l) => l.includes('already exists and is up to date'))).toHaveLength(5); // role, 2 queues, 2 hooks
    expect(again.stderr).toContain('successfully enrolled 2 scaling groups');
    expect(again.stdout).toContain(`Queue URL: ${await queueUrl(i.queue)}`);
    expect(await Promise.all(i.groups.map(hookOf))).toEqual(hooksBefore);
  });

  it('leaves differing resources alone without --overwrite, and updates them with it', async () => {
    const i = await installation(1);
    expect((await cli(...enrollArgs(i, '--heartbeat-timeout', '120'))).code).toBe(0);
    const url = (await queueUrl(i.queue))!;
    await aws.sqs.send(new SetQueueAttributesCommand({ QueueUrl: url, Attributes: { VisibilityTimeout: '30' } }));

    const kept = await cli(...enrollArgs(i, '--heartbeat-timeout', '600', '--default-result', 'ABANDON'));
    expect(kept.code).toBe(0);
    expect(kept.stderr).toContain(`lifecycle hook 'lifecycle-manager' on '${i.groups[0]}' already exists and differs (HeartbeatTimeout 120 → 600; DefaultResult CONTINUE → ABANDON)`);
    expect(kept.stderr).toContain(`SQS queue '${i.queue}' already exists and differs (VisibilityTimeout 30 → 60)`);
    expect(kept.stderr).toContain('2 existing resource(s) differ from this request and were left as they are; re-run with --overwrite to update them');
    expect(await hookOf(i.groups[0]!)).toMatchObject({ HeartbeatTimeout: 120, DefaultResult: 'CONTINUE' });

    const updated = await cli(...enrollArgs(i, '--heartbeat-timeout', '600', '--default-result', 'ABANDON', '--overwrite'));
    expect(updated.code).toBe(0);
    expect(updated.stderr).toContain(`updating lifecycle hook for '${i.groups[0]}': HeartbeatTimeout 120 → 600; DefaultResult CONTINUE → ABANDON`);
    expect(await hookOf(i.groups[0]!)).toMatchObject({ HeartbeatTimeout: 600, DefaultResult: 'ABANDON' });
    expect((await aws.sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['VisibilityTimeout'] }))).Attributes?.['VisibilityTimeout']).toBe('60');
  });

  it('refuses a missing group with one line naming it, and creates nothing', async () => {
    const i = await installation(1);
    const missing = `${i.groups[0]}-missing`;
    const run = await cli(...enrollArgs({ ...i, groups: [i.groups[0]!, missing] }));
    expect(run.code).toBe(1);
    expect(run.errorLines).toEqual([`lifecycle-manager: Auto Scaling group "${missing}" not found in region ${REGION}`]);
    expect(await roleExists(i.role)).toBe(false);
    expect(await queueUrl(i.queue)).toBeUndefined();
    expect(await queueUrl(`${i.queue}-dlq`)).toBeUndefined();
    expect(await hookOf(i.groups[0]!)).toBeUndefined();
  });

  it('prints the plan with --dry-run and creates nothing', async () => {
    const i = await installation(1);
    const run = await cli(...enrollArgs(i, '--dry-run'));
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`would create IAM role '${i.role}'`);
    expect(run.stdout).toContain(`would create SQS queue '${i.queue}-dlq'`);
    expect(run.stdout).toContain(`would create lifecycle hook 'lifecycle-manager' on '${i.groups[0]}'`);
    expect(run.stdout).toContain('dry run: nothing was created or changed');
    expect(await roleExists(i.role)).toBe(false);
    expect(await queueUrl(i.queue)).toBeUndefined();
    expect(await hookOf(i.groups[0]!)).toBeUndefined();
  });

  it('with --launch-hook also puts a launch hook on each group (DefaultResult CONTINUE whatever --default-result says) and prints serve --launch-hooks', async () => {
    const i = await installation(2);
    const run = await cli(...enrollArgs(i, '--launch-hook', '--default-result', 'ABANDON', '--heartbeat-timeout', '120'));
    expect(run.code).toBe(0);
    for (const g of i.groups) {
      const hooks = (await aws.autoScaling.send(new DescribeLifecycleHooksCommand({ AutoScalingGroupName: g }))).LifecycleHooks ?? [];
      expect(hooks.map((h) => [h.LifecycleHookName, h.LifecycleTransition, h.DefaultResult, h.HeartbeatTimeout, h.NotificationTargetARN?.split(':').pop()]).sort()).toEqual([
        ['lifecycle-manager', 'autoscaling:EC2_INSTANCE_TERMINATING', 'ABANDON', 120, i.queue],
        ['lifecycle-manager-launch', 'autoscaling:EC2_INSTANCE_LAUNCHING', 'CONTINUE', 120, i.queue],
      ]);
    }
    expect(run.stdout).toContain(`lifecycle-manager serve --region ${REGION} --queue-name ${i.queue} --launch-hooks`);
    expect(run.errorLines.filter((l) => l.includes('creating launch lifecycle hook'))).toHaveLength(2);
    // A re-run keeps both.
    const again = await cli(...enrollArgs(i, '--launch-hook', '--default-result', 'ABANDON', '--heartbeat-timeout', '120', '--dry-run'));
    expect(again.code).toBe(0);
    expect(again.stdout).toContain(`would keep lifecycle hook 'lifecycle-manager-launch' on '${i.groups[0]}' (exists, up to date)`);
  });

  it('rejects a heartbeat timeout AWS would refuse, before calling AWS', async () => {
    const i = await installation(1);
    const run = await cli(...enrollArgs(i, '--heartbeat-timeout', '10'));
    expect(run.code).toBe(1);
    expect(run.errorLines).toEqual(['lifecycle-manager: --heartbeat-timeout must be between 30 and 7200, got 10']);
    expect(await queueUrl(i.queue)).toBeUndefined();
  });
});

describe('unenroll', () => {
  it('removes the hooks, and with --delete-queue/--delete-role the queues and the role; a second run finds nothing to do', async () => {
    const i = await installation();
    expect((await cli(...enrollArgs(i))).code).toBe(0);

    const hooksOnly = await cli('unenroll', '--region', REGION, '--target-scaling-groups', i.groups[0]!, '--queue-name', i.queue);
    expect(hooksOnly.code).toBe(0);
    expect(await hookOf(i.groups[0]!)).toBeUndefined();
    expect(await hookOf(i.groups[1]!)).toBeDefined();
    expect(await queueUrl(i.queue)).toBeDefined();

    const all = await cli('unenroll', '--region', REGION, '--target-scaling-groups', i.groups.join(','), '--queue-name', i.queue,
      '--notification-role-name', i.role, '--delete-queue', '--delete-role');
    expect(all.code).toBe(0);
    expect(all.stderr).toContain(`no lifecycle hook 'lifecycle-manager' on '${i.groups[0]}'; nothing to remove`);
    expect(all.stderr).toContain(`deleting lifecycle hook 'lifecycle-manager' from '${i.groups[1]}'`);
    expect(await hookOf(i.groups[1]!)).toBeUndefined();
    expect(await queueUrl(i.queue)).toBeUndefined();
    expect(await queueUrl(`${i.queue}-dlq`)).toBeUndefined();
    expect(await roleExists(i.role)).toBe(false);

    const again = await cli('unenroll', '--region', REGION, '--target-scaling-groups', i.groups.join(','), '--queue-name', i.queue,
      '--notification-role-name', i.role, '--delete-queue', '--delete-role');
    expect(again.code).toBe(0);
    expect(again.stderr).toContain('successfully unenrolled 0 scaling groups');
    expect(again.stderr).toContain(`notification role '${i.role}' not found; nothing to delete`);
  });
});
