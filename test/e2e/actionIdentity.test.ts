import { hostname } from 'node:os';
import { PutLifecycleHookCommand } from '@aws-sdk/client-auto-scaling';
import * as k8s from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SERVICE_NAMESPACE, adminKubeConfig, eventually } from '../harness/infra.js';
import type { LifecycleActionRecord } from '../harness/moto.js';
import type { World } from '../harness/world.js';
import { e2eFixture } from './fixture.js';

const f = e2eFixture({ graceScale: 0.05 });
beforeAll(() => f.start());
afterAll(() => f.stop());

/** Short leases and visibility, as in resilience.test.ts. */
const FAST = ['--polling-interval', '1', '--drain-interval', '1', '--with-deregister=false', '--lease-duration', '5', '--visibility-timeout', '10'];
const coordination = adminKubeConfig(f.info).makeApiClient(k8s.CoordinationV1Api);
const ANNOTATION = 'lifecycle-manager.io';

/** `kubectl -n lifecycle-manager get leases -l app.kubernetes.io/managed-by=lifecycle-manager`, this instance's only. */
async function leasesOf(instanceId: string): Promise<k8s.V1Lease[]> {
  const list = await coordination.listNamespacedLease({ namespace: SERVICE_NAMESPACE, labelSelector: 'app.kubernetes.io/managed-by=lifecycle-manager' });
  return list.items.filter((l) => l.metadata?.name?.startsWith(`lifecycle-${instanceId}-`));
}

async function endedActions(instanceId: string, count: number, timeoutMs: number): Promise<LifecycleActionRecord[]> {
  return eventually(`${count} lifecycle action(s) of ${instanceId} to end`, async () => {
    const mine = await f.actions(instanceId);
    return mine.length === count && mine.every((a) => a.result !== null) ? mine : undefined;
  }, timeoutMs, 300);
}

/** A pod on the instance's Node that stays Terminating until released: the drain cannot finish meanwhile. */
async function heldPod(world: World, name: string): Promise<void> {
  await f.kubelet.createPod(world.namespace, { name, nodeName: world.instances[0]!.nodeName, ownerKind: 'ReplicaSet' });
  f.kubelet.hold(world.namespace, name);
}

describe('identity and deadlines survive hand-over', () => {
  it('two termination hooks on one instance are two actions: two Leases, each completed CONTINUE exactly once, one drain', async () => {
    const world = await f.world({ instances: 1, heartbeatTimeoutSeconds: 30 });
    const [instance] = world.instances;
    await f.aws.autoScaling.send(new PutLifecycleHookCommand({
      AutoScalingGroupName: world.autoScalingGroupName, LifecycleHookName: 'lifecycle-manager-second',
      LifecycleTransition: 'autoscaling:EC2_INSTANCE_TERMINATING', HeartbeatTimeout: 30, DefaultResult: 'ABANDON',
      NotificationTargetARN: world.queueArn, RoleARN: 'arn:aws:iam::123456789012:role/lifecycle-manager-notifications',
    }));
    await heldPod(world, 'app');
    const lm = await f.serve(world, FAST);
    await world.terminate(instance!.instanceId);

    // While the drain is held, each action has its own Lease, with its own hook and token.
    const leases = await eventually('a Lease per hook', async () => {
      const found = await leasesOf(instance!.instanceId);
      return found.length === 2 ? found : undefined;
    }, 30_000);
    const recorded = leases.map((l) => JSON.parse(l.metadata!.annotations![`${ANNOTATION}/action`]!) as { hook: string; token: string });
    expect(recorded.map((r) => r.hook).sort()).toEqual(['lifecycle-manager', 'lifecycle-manager-second']);
    expect(new Set(recorded.map((r) => r.token)).size).toBe(2);
    const names = leases.map((l) => l.metadata!.name!);
    expect(new Set(names).size).toBe(2);
    for (const name of names) expect(name).toMatch(new RegExp(`^lifecycle-${instance!.instanceId}-[0-9a-f]{8}$`, 'u'));

    f.kubelet.release(world.namespace, 'app');
    const actions = await endedActions(instance!.instanceId, 2, 60_000);
    expect(new Set(actions.map((a) => a.token)).size).toBe(2);
    for (const a of actions) {
      expect({ hook: a.lifecycleHookName, result: a.result, source: a.resultSource, completes: a.completeCalls, rejected: a.rejectedCompleteCalls })
        .toEqual({ hook: a.lifecycleHookName, result: 'CONTINUE', source: 'complete', completes: 1, rejected: 0 });
    }
    expect(recorded.map((r) => r.token).sort()).toEqual(actions.map((a) => a.token).sort());
    expect(await world.podsOn(instance!.nodeName)).toEqual([]);
    expect(await world.nodeExists(instance!.nodeName)).toBe(false);
    expect(await lm.metric('lifecycle_manager_messages_total', { outcome: 'processed', reason: 'continue' })).toBe(2);
    await eventually('both Leases released', async () => (await leasesOf(instance!.instanceId)).length === 0, 15_000);
    // One instance, one drain: the node is drained and deleted once, whichever of its two actions does it.
    const events = await world.nodeEvents(instance!.nodeName);
    const eventCount = (reason: string) => events.filter((e) => e.reason === reason).reduce((n, e) => n + (e.count ?? 1), 0);
    expect({
      drains: lm.countLogs(new RegExp(`${instance!.instanceId}> draining node/${instance!.nodeName}`, 'u')),
      drainSucceededEvents: eventCount('NodeDrainSucceeded'),
      evictions: lm.countLogs(new RegExp(`${instance!.instanceId}> evicting pod ${world.namespace}/app`, 'u')),
      nodeDeletions: lm.countLogs(new RegExp(`${instance!.instanceId}> deleting node/`, 'u')),
      nodeDeletedEvents: eventCount('NodeDeleteSucceeded'),
    }).toEqual({ drains: 1, drainSucceededEvents: 1, evictions: 1, nodeDeletions: 1, nodeDeletedEvents: 1 });
  });

  it('--max-time-to-process counts from the first receipt: a replica restarted after kill -9 abandons at the original deadline', async () => {
    const world = await f.world({ instances: 1, heartbeatTimeoutSeconds: 12 });
    const [instance] = world.instances;
    await heldPod(world, 'stuck');
    // The shortest --max-time-to-process the startup check accepts: 3s join + 1×15s drain + 45s to delete and complete.
    // The drain may therefore run until 18s after the first receipt; a fresh 15s attempt after a restart would not fit.
    const flags = [...FAST, '--max-time-to-process', '63', '--node-join-timeout', '3', '--drain-timeout', '15', '--drain-retries', '1', '--max-termination-grace-period', '0', '--volume-detach-timeout', '0'];
    const env = { POD_NAME: 'replica-0' };
    const first = await f.serve(world, flags, { env });
    await world.terminate(instance!.instanceId);
    await first.waitForLog(new RegExp(`${instance!.instanceId}> evicting pod`, 'u'), 30_000);
    const timesOf = (l: k8s.V1Lease) => ({
      receivedAt: l.metadata?.annotations?.[`${ANNOTATION}/received-at`], deadline: l.metadata?.annotations?.[`${ANNOTATION}/deadline`],
    });
    const [before] = await leasesOf(instance!.instanceId);
    const original = timesOf(before!);
    expect(Date.parse(original.deadline!) - Date.parse(original.receivedAt!)).toBe(63_000);

    // Mid-drain, a few seconds into the action (the second heartbeat, 6s in), the replica dies.
    await first.waitForLog(new RegExp(`${instance!.instanceId}> sending heartbeat \\(2\\)`, 'u'), 30_000);
    await first.kill();
    const second = await f.serve(world, flags, { env });
    await second.waitForLog(new RegExp(`${instance!.instanceId}> resuming event .* from phase draining`, 'u'), 30_000);
    const [after] = await leasesOf(instance!.instanceId);
    expect(timesOf(after!)).toEqual(original);
    expect(after!.spec?.holderIdentity).toBe('replica-0');

    const [action] = await endedActions(instance!.instanceId, 1, 60_000);
    expect({ result: action!.result, source: action!.resultSource, completes: action!.completeCalls })
      .toEqual({ result: 'ABANDON', source: 'complete', completes: 1 });
    expect(Date.parse(action!.completedAt!)).toBeLessThanOrEqual(Date.parse(original.deadline!));
    // The resumed drain was cut by the original deadline's share, before a fresh 15s attempt could time out.
    const failed = new RegExp(`${instance!.instanceId}> step drain failed \\(timeout\\): no time left in its share of the deadline`, 'u');
    expect(second.countLogs(failed)).toBe(1);
    expect(second.countLogs(/global timeout reached: 15s/u)).toBe(0);
    const events = await world.nodeEvents(instance!.nodeName);
    expect(events.some((e) => e.reason === 'LifecycleStepFailed' && /step drain failed \(timeout\): no time left in its share of the deadline/u.test(e.message ?? ''))).toBe(true);
    // Abandoned: the Node and its pod are kept.
    expect(await world.nodeExists(instance!.nodeName)).toBe(true);
    expect(await second.metric('lifecycle_manager_messages_total', { outcome: 'processed', reason: 'abandon' })).toBe(1);
    f.kubelet.release(world.namespace, 'stuck');
  });

  it('an empty POD_NAME does not make an empty Lease holder: the replica is <hostname>-<pid>', async () => {
    const world = await f.world({ instances: 1, heartbeatTimeoutSeconds: 30 });
    const [instance] = world.instances;
    await heldPod(world, 'app');
    const lm = await f.serve(world, FAST, { env: { POD_NAME: '' } });
    await world.terminate(instance!.instanceId);
    const [lease] = await eventually('the action\'s Lease', async () => {
      const found = await leasesOf(instance!.instanceId);
      return found.length === 1 ? found : undefined;
    }, 30_000);
    const identity = `${hostname()}-${lm.process.child.pid}`;
    expect(lease!.spec?.holderIdentity).toBe(identity);
    expect(lm.countLogs(new RegExp(`replica ${identity} records actions as Leases`, 'u'))).toBe(1);
    f.kubelet.release(world.namespace, 'app');
    const [action] = await endedActions(instance!.instanceId, 1, 60_000);
    expect({ result: action!.result, source: action!.resultSource, completes: action!.completeCalls }).toEqual({ result: 'CONTINUE', source: 'complete', completes: 1 });
  });

  it('resumes an action from a Lease named the way 0.1.0 named them (after the instance only), and deletes that Lease', async () => {
    const world = await f.world({ instances: 1, heartbeatTimeoutSeconds: 30, podsPerNode: 1 });
    const [instance] = world.instances;
    await world.terminate(instance!.instanceId);
    // The message is gone (0.1.0 deleted it after completing… or lost it): only the old Lease knows the action.
    const { ReceiveMessageCommand, DeleteMessageCommand } = await import('@aws-sdk/client-sqs');
    const body = await eventually('the termination message', async () => {
      const out = await f.aws.sqs.send(new ReceiveMessageCommand({ QueueUrl: world.queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));
      for (const m of out.Messages ?? []) await f.aws.sqs.send(new DeleteMessageCommand({ QueueUrl: world.queueUrl, ReceiptHandle: m.ReceiptHandle! }));
      return out.Messages?.map((m) => JSON.parse(m.Body!) as Record<string, string>).find((b) => b['LifecycleTransition'] === 'autoscaling:EC2_INSTANCE_TERMINATING');
    }, 15_000);
    const oldName = `lifecycle-${instance!.instanceId}`;
    const longAgo = '2026-01-01T00:00:00.000000Z' as unknown as Date;
    await coordination.createNamespacedLease({ namespace: SERVICE_NAMESPACE, body: {
      metadata: {
        name: oldName, labels: { 'app.kubernetes.io/managed-by': 'lifecycle-manager', [`${ANNOTATION}/queue`]: world.queueName },
        annotations: {
          [`${ANNOTATION}/action`]: JSON.stringify({ asg: body['AutoScalingGroupName'], hook: body['LifecycleHookName'], instanceId: instance!.instanceId, token: body['LifecycleActionToken'], requestId: body['RequestId'], format: 'autoscaling' }),
          [`${ANNOTATION}/phase`]: 'draining',
          [`${ANNOTATION}/received-at`]: new Date().toISOString(),
          [`${ANNOTATION}/deadline`]: new Date(Date.now() + 3_600_000).toISOString(),
          [`${ANNOTATION}/heartbeat-timeout-seconds`]: '30',
        },
      },
      spec: { holderIdentity: 'replica-of-0.1.0', leaseDurationSeconds: 5, acquireTime: longAgo, renewTime: longAgo },
    } });
    const lm = await f.serve(world, FAST);
    const [action] = await endedActions(instance!.instanceId, 1, 60_000);
    expect({ result: action!.result, source: action!.resultSource, completes: action!.completeCalls }).toEqual({ result: 'CONTINUE', source: 'complete', completes: 1 });
    expect(lm.countLogs(new RegExp(`${instance!.instanceId}> found event .* in phase draining held by replica-of-0.1.0`, 'u'))).toBe(1);
    expect(await world.podsOn(instance!.nodeName)).toEqual([]);
    await eventually('the old Lease to be deleted', async () => coordination.readNamespacedLease({ name: oldName, namespace: SERVICE_NAMESPACE }).then(() => false, (e: { code?: number }) => e.code === 404), 15_000);
    expect(await leasesOf(instance!.instanceId)).toEqual([]);
  });
});
