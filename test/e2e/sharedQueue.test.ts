import { randomBytes } from 'node:crypto';
import { CreateOrUpdateTagsCommand } from '@aws-sdk/client-auto-scaling';
import { CreateQueueCommand, DeleteMessageCommand, GetQueueAttributesCommand, GetQueueUrlCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import * as k8s from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEmptyGroups } from '../harness/autoScalingGroups.js';
import { runCli } from '../harness/cli.js';
import { SERVICE_NAMESPACE, adminKubeConfig, eventually } from '../harness/infra.js';
import type { LifecycleManagerProcess } from '../harness/lifecycleManager.js';
import { REGION } from '../harness/moto.js';
import type { World } from '../harness/world.js';
import { e2eFixture } from './fixture.js';

const f = e2eFixture({ graceScale: 0.05 });
beforeAll(() => f.start());
afterAll(() => f.stop());

const LEASE_SECONDS = 5;
/** Short leases and visibility, as in resilience.test.ts. */
const FAST = ['--polling-interval', '1', '--drain-interval', '1', '--with-deregister=false', '--lease-duration', String(LEASE_SECONDS), '--visibility-timeout', '10'];
const KEEPING = /keeping this copy of the message until that replica finishes/u;
const cli = (...args: string[]) => runCli(f.info.repoRoot, args, f.awsEnv);

async function queueDepth(queueUrl: string): Promise<{ visible: number; inFlight: number }> {
  const out = await f.aws.sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }));
  return { visible: Number(out.Attributes?.['ApproximateNumberOfMessages'] ?? 0), inFlight: Number(out.Attributes?.['ApproximateNumberOfMessagesNotVisible'] ?? 0) };
}

/** Takes the termination message AWS sent off the queue (nothing else is consuming yet) and returns its body. */
async function takeTerminationMessage(world: World): Promise<string> {
  return eventually('the termination message', async () => {
    const out = await f.aws.sqs.send(new ReceiveMessageCommand({ QueueUrl: world.queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));
    for (const m of out.Messages ?? []) await f.aws.sqs.send(new DeleteMessageCommand({ QueueUrl: world.queueUrl, ReceiptHandle: m.ReceiptHandle! }));
    return out.Messages?.find((m) => m.Body?.includes('EC2_INSTANCE_TERMINATING'))?.Body;
  }, 15_000);
}

async function completedOnce(instanceId: string): Promise<void> {
  const [action] = await eventually('the action to end', async () => {
    const mine = await f.actions(instanceId);
    return mine.length === 1 && mine[0]!.result !== null ? mine : undefined;
  }, 60_000, 300);
  expect({ result: action!.result, source: action!.resultSource, completes: action!.completeCalls }).toEqual({ result: 'CONTINUE', source: 'complete', completes: 1 });
}

/**
 * One action whose drain is held, and two copies of its message on the queue: replica-a owns the action (it works
 * on one message at a time, --max-in-flight 1, so the second copy can only reach replica-b), replica-b follows it.
 */
async function ownerAndFollower(): Promise<{ world: World; instanceId: string; owner: LifecycleManagerProcess; follower: LifecycleManagerProcess }> {
  const world = await f.world({ instances: 1, heartbeatTimeoutSeconds: 30 });
  const [instance] = world.instances;
  await f.kubelet.createPod(world.namespace, { name: 'app', nodeName: instance!.nodeName, ownerKind: 'ReplicaSet' });
  f.kubelet.hold(world.namespace, 'app');
  await world.terminate(instance!.instanceId);
  const body = await takeTerminationMessage(world);
  const owner = await f.serve(world, [...FAST, '--max-in-flight', '1'], { env: { POD_NAME: 'replica-a' } });
  await world.sendRaw(body);
  await owner.waitForLog(new RegExp(`${instance!.instanceId}> evicting pod`, 'u'), 30_000);
  const follower = await f.serve(world, FAST, { env: { POD_NAME: 'replica-b' } });
  await world.sendRaw(body);
  await follower.waitForLog(new RegExp(`${instance!.instanceId}> event .* is being processed by replica-a; ${KEEPING.source}`, 'u'), 30_000);
  return { world, instanceId: instance!.instanceId, owner, follower };
}

const duplicates = async (lm: LifecycleManagerProcess) => ({
  ownedByOther: await lm.metric('lifecycle_manager_messages_total', { outcome: 'duplicate', reason: 'owned_by_other_replica' }),
  all: await lm.metric('lifecycle_manager_messages_total', { outcome: 'duplicate' }),
});

describe('shared queues do not feed the dead-letter queue', () => {
  it('the replica that does not own an action keeps its copy of the message (received once) and deletes it when the owner finishes', async () => {
    const { world, instanceId, owner, follower } = await ownerAndFollower();
    // Longer than 3 lease durations, and than the 30s a copy handed back to the queue would stay invisible: a copy
    // released instead of kept would have been received again (and counted toward maxReceiveCount) by now.
    await new Promise((r) => setTimeout(r, 35_000));
    expect(await queueDepth(world.queueUrl)).toEqual({ visible: 0, inFlight: 2 });
    expect(await duplicates(follower)).toEqual({ ownedByOther: 1, all: 1 });
    expect(await duplicates(owner)).toEqual({ ownedByOther: 0, all: 0 });
    expect(follower.countLogs(KEEPING)).toBe(1);

    f.kubelet.release(world.namespace, 'app');
    await completedOnce(instanceId);
    await follower.waitForLog(new RegExp(`${instanceId}> event .* was finished by another replica; deleting this copy of its message`, 'u'), 30_000);
    await eventually('the queue to be empty', async () => JSON.stringify(await queueDepth(world.queueUrl)) === JSON.stringify({ visible: 0, inFlight: 0 }), 30_000);
    expect(follower.countLogs(new RegExp(`${instanceId}> (received termination event|resuming event)`, 'u'))).toBe(0);
    expect(await duplicates(follower)).toEqual({ ownedByOther: 1, all: 1 });
    expect(await world.nodeExists(world.instances[0]!.nodeName)).toBe(false);
    // The next test's replicas reuse these identities: a live replica-a would keep proving the next one alive.
    await Promise.all([owner.stop(), follower.stop()]);
  });

  it('when the owner is killed -9, the replica holding the other copy takes the action over and completes it exactly once', async () => {
    const { world, instanceId, owner, follower } = await ownerAndFollower();
    // A phase is recorded once it has lasted a third of the lease duration: killed before that, the action would be
    // resumed from the phase before (as correct, every step being idempotent, but not what this test looks at).
    const coordination = adminKubeConfig(f.info).makeApiClient(k8s.CoordinationV1Api);
    await eventually('the draining phase recorded', async () => (await coordination.listNamespacedLease({ namespace: SERVICE_NAMESPACE }))
      .items.some((l) => l.metadata?.name?.startsWith(`lifecycle-${instanceId}-`) && l.metadata.annotations?.['lifecycle-manager.io/phase'] === 'draining'), 15_000, 200);
    await owner.kill();
    await follower.waitForLog(new RegExp(`${instanceId}> resuming event .* from phase draining \\(previously held by replica-a\\)`, 'u'), 30_000);
    f.kubelet.release(world.namespace, 'app');
    await completedOnce(instanceId);
    expect(await world.podsOn(world.instances[0]!.nodeName)).toEqual([]);
    expect(await world.nodeExists(world.instances[0]!.nodeName)).toBe(false);
    // The dead owner's copy comes back when its visibility lapses and is settled too.
    await eventually('the queue to be empty', async () => JSON.stringify(await queueDepth(world.queueUrl)) === JSON.stringify({ visible: 0, inFlight: 0 }), 30_000);
    expect(follower.countLogs(new RegExp(`${instanceId}> resuming event`, 'u'))).toBe(1);
    expect(await follower.metric('lifecycle_manager_messages_total', { outcome: 'processed', reason: 'continue' })).toBe(1);
    expect((await f.actions(instanceId))[0]!.completeCalls).toBe(1);
  });

  it('serve --cluster-name warns at startup when the redrive policy is too small for a shared queue, naming the count needed', async () => {
    const dlqName = `lm-dlq-${randomBytes(4).toString('hex')}`;
    const dlqUrl = (await f.aws.sqs.send(new CreateQueueCommand({ QueueName: dlqName }))).QueueUrl!;
    const dlqArn = (await f.aws.sqs.send(new GetQueueAttributesCommand({ QueueUrl: dlqUrl, AttributeNames: ['QueueArn'] }))).Attributes!['QueueArn']!;
    const redrive = (maxReceiveCount: number) => ({ RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount }) });
    const small = await f.world({ instances: 1, heartbeatTimeoutSeconds: 30, queueAttributes: redrive(5) });
    const sized = await f.world({ instances: 1, heartbeatTimeoutSeconds: 30, queueAttributes: redrive(19) });
    const warning = (queueName: string) => new RegExp(`level=warning msg="queue ${queueName} is shared by at least 2 clusters but sends a message to its dead-letter queue after (\\d+) receives.*Raise the redrive policy's maxReceiveCount to 19 or more`, 'u');

    // serve has logged all its startup checks once it reports the node cache synced (the fixture waits for that).
    const warned = await f.serve(small, [...FAST, '--cluster-name', 'blue']);
    expect(warned.logs().filter((l) => warning(small.queueName).test(l)).map((l) => warning(small.queueName).exec(l)![1])).toEqual(['5']);
    const unshared = await f.serve(small, FAST);
    const fits = await f.serve(sized, [...FAST, '--cluster-name', 'blue']);
    for (const lm of [unshared, fits]) expect(lm.countLogs(/is shared by at least/u)).toBe(0);
  });

  it('doctor --cluster-name fails a redrive policy too small for the clusters sharing the queue; enroll --cluster-name --overwrite sizes it', async () => {
    const id = randomBytes(4).toString('hex');
    const queue = `lm-shared-${id}`;
    const role = `lm-notify-${id}`;
    const groups = await createEmptyGroups(f.aws, 3, `asg-shared-${id}`);
    // Enrolled without --cluster-name: the redrive policy of an unshared queue (5 receives).
    const enrolled = await cli('enroll', '--region', REGION, '--queue-name', queue, '--notification-role-name', role, '--target-scaling-groups', groups.join(','));
    expect(enrolled.code).toBe(0);
    const clusters = ['blue', 'green', 'red'];
    for (const [n, group] of groups.entries()) {
      await f.aws.autoScaling.send(new CreateOrUpdateTagsCommand({ Tags: [{ ResourceId: group, ResourceType: 'auto-scaling-group', Key: `kubernetes.io/cluster/${clusters[n]}`, Value: 'owned', PropagateAtLaunch: true }] }));
    }
    const doctor = () => cli('doctor', '--region', REGION, '--queue-name', queue, '--local-mode', f.info.serviceKubeconfigPath, '--cluster-name', 'blue');

    const before = await doctor();
    expect(before.code).toBe(1);
    expect(failedChecks(before.stdout)).toEqual(['dead-letter queue']);
    expect(before.stdout).toMatch(new RegExp(`✗  dead-letter queue +maxReceiveCount 5 on a queue shared by 3 clusters \\(blue, green, red\\)[^\\n]*\\n +fix: set maxReceiveCount to 28 or more \\(lifecycle-manager enroll .*--cluster-name blue sizes it\\)`, 'u'));

    const resized = await cli('enroll', '--region', REGION, '--queue-name', queue, '--notification-role-name', role, '--target-scaling-groups', groups[0]!, '--cluster-name', 'blue', '--overwrite');
    expect(resized.code).toBe(0);
    const url = (await f.aws.sqs.send(new GetQueueUrlCommand({ QueueName: queue }))).QueueUrl!;
    const attributes = (await f.aws.sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['RedrivePolicy'] }))).Attributes!;
    expect(JSON.parse(attributes['RedrivePolicy']!)).toMatchObject({ maxReceiveCount: 28 });

    const after = await doctor();
    expect(failedChecks(after.stdout)).toEqual([]);
    expect(after.stdout).toMatch(/✓  dead-letter queue +'[^']+' after 28 receives/u);
  });
});

/** The doctor table's failed rows, by check name. */
function failedChecks(stdout: string): string[] {
  return stdout.split('\n').flatMap((l) => {
    const m = /^✗ {2}(.+?) {2,}/u.exec(l);
    return m ? [m[1]!.trim()] : [];
  });
}
