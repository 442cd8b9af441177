import { CreateOrUpdateTagsCommand } from '@aws-sdk/client-auto-scaling';
import { GetQueueAttributesCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFaultProxy } from '../harness/faultProxy.js';
import { eventually } from '../harness/infra.js';
import type { World } from '../harness/world.js';
import { e2eFixture } from './fixture.js';

const f = e2eFixture({ graceScale: 0.05 });
beforeAll(() => f.start());
afterAll(() => f.stop());

/** Short leases and visibility so that fail-over and redelivery happen within seconds. */
const FAST = ['--polling-interval', '1', '--drain-interval', '1', '--with-deregister=false', '--lease-duration', '5', '--visibility-timeout', '10'];

async function queueDepth(queueUrl: string): Promise<number> {
  const out = await f.aws.sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }));
  return Number(out.Attributes?.['ApproximateNumberOfMessages'] ?? 0) + Number(out.Attributes?.['ApproximateNumberOfMessagesNotVisible'] ?? 0);
}

async function completedOnce(instanceIds: readonly string[], timeoutMs: number): Promise<void> {
  await eventually(`${instanceIds.length} actions completed`, async () => {
    const actions = (await f.actions()).filter((a) => instanceIds.includes(a.instanceId));
    return actions.length === instanceIds.length && actions.every((a) => a.result !== null);
  }, timeoutMs, 300);
  for (const a of (await f.actions()).filter((x) => instanceIds.includes(x.instanceId))) {
    // Exactly one successful completion, CONTINUE, and never an expired hook.
    expect({ instance: a.instanceId, result: a.result, source: a.resultSource, completes: a.completeCalls })
      .toEqual({ instance: a.instanceId, result: 'CONTINUE', source: 'complete', completes: 1 });
  }
}

describe('no event lost, duplicated or forged', () => {
  it('drops forged, stale and hostile messages without touching any node, counting each by reason, without crashing or looping', async () => {
    const world = await f.world({ instances: 3, heartbeatTimeoutSeconds: 30, podsPerNode: 1 });
    const other = await f.world({ instances: 1, heartbeatTimeoutSeconds: 30 });
    const [healthy, done] = world.instances;
    const lm = await f.serve(world, FAST);
    // A real action first, so that its message can be replayed afterwards.
    await world.terminate(done!.instanceId);
    await completedOnce([done!.instanceId], 60_000);
    const token = (await f.actions(done!.instanceId))[0]!.token;
    const base = { LifecycleTransition: 'autoscaling:EC2_INSTANCE_TERMINATING', AutoScalingGroupName: world.autoScalingGroupName, LifecycleHookName: world.lifecycleHookName, LifecycleActionToken: '8d7a5f0e-0000-4000-8000-000000000001', RequestId: 'forged', Time: new Date().toISOString() };
    const forged = [
      { ...base, EC2InstanceId: healthy!.instanceId },                                             // InService: not terminating
      { ...base, EC2InstanceId: healthy!.instanceId, AutoScalingGroupName: other.autoScalingGroupName }, // wrong group
      { ...base, EC2InstanceId: healthy!.instanceId, LifecycleHookName: 'not-our-hook' },          // wrong hook
      { ...base, EC2InstanceId: done!.instanceId, LifecycleActionToken: token },                   // replay of a finished action
      { ...base, EC2InstanceId: healthy!.instanceId, AutoScalingGroupName: 'asg\u202e\u0000🙂' },   // odd unicode
      { ...base, EC2InstanceId: undefined },                                                       // missing field
    ];
    for (const body of forged) await world.sendRaw(JSON.stringify(body));
    await world.sendRaw(JSON.stringify({ ...base, EC2InstanceId: healthy!.instanceId, NotificationMetadata: 'x'.repeat(200_000) })); // huge

    await eventually('every forged message settled', async () => (await queueDepth(world.queueUrl)) === 0, 30_000);
    const node = await f.kubelet.core.readNode({ name: healthy!.nodeName });
    expect(node.spec?.unschedulable ?? false).toBe(false);
    expect((await world.podsOn(healthy!.nodeName)).length).toBe(1);
    const reasons: Record<string, number> = {};
    for (const reason of ['instance_not_terminating', 'instance_not_in_group', 'hook_not_found', 'bad_field', 'missing_fields', 'too_large']) {
      reasons[reason] = await lm.metric('lifecycle_manager_messages_total', { outcome: 'deleted', reason });
    }
    expect(reasons).toEqual({ instance_not_terminating: 1, instance_not_in_group: 2, hook_not_found: 1, bad_field: 1, missing_fields: 1, too_large: 1 });
    // Nothing comes back: a few more polls later the counts have not moved.
    const total = await lm.metric('lifecycle_manager_messages_total');
    await lm.waitForLog(/./u, 1);
    await new Promise((r) => setTimeout(r, 3_000));
    expect(await lm.metric('lifecycle_manager_messages_total')).toBe(total);
    expect(lm.process.child.exitCode).toBeNull();
    // No lifecycle action token is ever written to the log.
    expect(lm.logs().some((l) => l.includes(token))).toBe(false);
  });

  it('resumes from its Lease after kill -9 at any phase: heartbeats continue, the drain finishes, completion happens exactly once', async () => {
    const world = await f.world({ instances: 3, heartbeatTimeoutSeconds: 12 });
    // Kill points: right after verification, mid-drain, and mid-drain after a second heartbeat (pods held).
    const killAt = [/received termination event/u, /evicting pod/u, /sending heartbeat \(2\)/u];
    for (const [n, instance] of world.instances.entries()) {
      await f.kubelet.createPod(world.namespace, { name: `app-${n}`, nodeName: instance.nodeName, ownerKind: 'ReplicaSet', terminationGracePeriodSeconds: 30 });
    }
    for (const [n, instance] of world.instances.entries()) {
      f.kubelet.hold(world.namespace, `app-${n}`);
      const first = await f.serve(world, FAST, { env: { POD_NAME: 'replica-0' } });
      await world.terminate(instance.instanceId);
      await first.waitForLog(new RegExp(`${instance.instanceId}> .*${killAt[n]!.source}`, 'u'), 30_000);
      await first.kill();
      f.kubelet.release(world.namespace, `app-${n}`);
      const second = await f.serve(world, FAST, { env: { POD_NAME: 'replica-0' } });
      await completedOnce([instance.instanceId], 60_000);
      expect(second.countLogs(new RegExp(`${instance.instanceId}> (found event|resuming event|received termination event)`, 'u'))).toBeGreaterThanOrEqual(1);
      await second.stop();
    }
    // The killed replicas' messages reappear when their visibility lapses; by then the actions are finished,
    // so they are recognised as stale (the instance left the group) and deleted, not processed again.
    const sweeper = await f.serve(world, FAST);
    await eventually('the killed replicas\' messages to be settled', async () => (await queueDepth(world.queueUrl)) === 0, 30_000);
    expect(sweeper.countLogs(/received termination event/u)).toBe(0);
    for (const a of await f.actions()) if (world.instances.some((i) => i.instanceId === a.instanceId)) expect(a.completeCalls).toBe(1);
  });

  it('runs two replicas safely: each action is owned by one, and the survivor takes over when the other is killed', async () => {
    const world = await f.world({ instances: 4, heartbeatTimeoutSeconds: 30 });
    for (const [n, i] of world.instances.entries()) {
      await f.kubelet.createPod(world.namespace, { name: `held-${n}`, nodeName: i.nodeName, ownerKind: 'ReplicaSet' });
      f.kubelet.hold(world.namespace, `held-${n}`);
    }
    const a = await f.serve(world, FAST, { env: { POD_NAME: 'replica-a' } });
    const b = await f.serve(world, FAST, { env: { POD_NAME: 'replica-b' } });
    await Promise.all(world.instances.map((i) => world.terminate(i.instanceId)));
    await eventually('all four actions being drained', async () => world.instances.every((i) => [a, b].some((r) => r.countLogs(new RegExp(`${i.instanceId}> evicting pod`, 'u')) > 0)), 30_000);
    const ownedByA = world.instances.filter((i) => a.countLogs(new RegExp(`${i.instanceId}> received termination event`, 'u')) > 0);
    const ownedByB = world.instances.filter((i) => b.countLogs(new RegExp(`${i.instanceId}> received termination event`, 'u')) > 0);
    expect(ownedByA.length + ownedByB.length).toBe(4); // nobody processes an action twice
    const [victim, survivor, victimOwned] = ownedByA.length > 0 ? [a, b, ownedByA] : [b, a, ownedByB];

    const killedAt = Date.now();
    await victim.kill();
    await survivor.waitForLog(new RegExp(`${victimOwned[0]!.instanceId}> found event`, 'u'), 30_000);
    const failoverSeconds = (Date.now() - killedAt) / 1000;
    process.stderr.write(`fail-over: the surviving replica resumed ${victimOwned.length} action(s) ${failoverSeconds.toFixed(1)}s after kill -9 (lease duration 5s)\n`);
    for (const [n] of world.instances.entries()) f.kubelet.release(world.namespace, `held-${n}`);
    await completedOnce(world.instances.map((i) => i.instanceId), 60_000);
  });

  it('rides out throttling, 5xx and latency from AWS: every hook heartbeats, completes CONTINUE and none expires', async () => {
    const proxy = await startFaultProxy(f.info.motoEndpoint, [
      { service: 'autoscaling', operation: 'RecordLifecycleActionHeartbeat', every: 2, fault: 'throttle' },
      { service: 'autoscaling', operation: 'CompleteLifecycleAction', every: 2, fault: 'server-error' },
      { service: 'autoscaling', operation: 'DescribeAutoScalingInstances', every: 3, fault: 'throttle' },
      { service: 'sqs', operation: 'ReceiveMessage', every: 4, fault: 'server-error' },
      { service: 'sqs', operation: 'DeleteMessage', every: 2, fault: 'throttle' },
      { service: 'sqs', every: 1, fault: 'latency', latencyMs: 150 },
    ]);
    try {
      const world = await f.world({ instances: 5, heartbeatTimeoutSeconds: 10, podsPerNode: 1 });
      const lm = await f.serve(world, FAST, { env: { AWS_ENDPOINT_URL: proxy.endpoint } });
      await Promise.all(world.instances.map((i) => world.terminate(i.instanceId)));
      await completedOnce(world.instances.map((i) => i.instanceId), 90_000);
      await eventually('the queue to be empty', async () => (await queueDepth(world.queueUrl)) === 0, 30_000);
      const injected = [...proxy.injected.values()].reduce((s, n) => s + n, 0);
      process.stderr.write(`fault injection: ${injected} faults injected: ${JSON.stringify(Object.fromEntries(proxy.injected))}\n`);
      expect(proxy.injected.get('autoscaling:CompleteLifecycleAction:server-error')).toBeGreaterThan(0);
      expect(await lm.metric('lifecycle_manager_lifecycle_actions_completed_total', { result: 'ABANDON' })).toBe(0);
    } finally {
      await proxy.close();
    }
  });

  it('with --cluster-name, leaves another cluster\'s messages on a shared queue for that cluster instead of deleting them', async () => {
    const blue = await f.world({ instances: 1, heartbeatTimeoutSeconds: 30 });
    const green = await f.world({ instances: 1, heartbeatTimeoutSeconds: 30 });
    for (const [w, cluster] of [[blue, 'blue'], [green, 'green']] as const) {
      await f.aws.autoScaling.send(new CreateOrUpdateTagsCommand({ Tags: [{ ResourceId: w.autoScalingGroupName, ResourceType: 'auto-scaling-group', Key: `kubernetes.io/cluster/${cluster}`, Value: 'owned', PropagateAtLaunch: true }] }));
    }
    // The green group's hook notifies the blue queue too: one queue shared by two clusters.
    const greenInstance = green.instances[0]!;
    await forwardTerminationMessage(green, blue);
    const lmBlue = await f.serve(blue, [...FAST, '--cluster-name', 'blue']);
    await lmBlue.waitForLog(/is not tagged for cluster blue; leaving the message for that cluster/u, 30_000);
    await lmBlue.stop();
    expect(await queueDepth(blue.queueUrl)).toBe(1); // released, not deleted
    const lmGreen = await f.serve(blue, [...FAST, '--cluster-name', 'green']);
    await completedOnce([greenInstance.instanceId], 60_000);
    expect(lmGreen.countLogs(new RegExp(`${greenInstance.instanceId}> received termination event`, 'u'))).toBe(1);
    await eventually('the shared queue to be empty', async () => (await queueDepth(blue.queueUrl)) === 0, 30_000);

    async function forwardTerminationMessage(source: World, target: World): Promise<void> {
      await source.terminate(greenInstance.instanceId);
      // Move the message AWS sent to the source queue onto the shared target queue, as a shared hook target would.
      const { ReceiveMessageCommand, DeleteMessageCommand } = await import('@aws-sdk/client-sqs');
      const body = await eventually('the green termination message', async () => {
        const out = await f.aws.sqs.send(new ReceiveMessageCommand({ QueueUrl: source.queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));
        for (const m of out.Messages ?? []) await f.aws.sqs.send(new DeleteMessageCommand({ QueueUrl: source.queueUrl, ReceiptHandle: m.ReceiptHandle! }));
        return out.Messages?.find((m) => m.Body?.includes('EC2_INSTANCE_TERMINATING'))?.Body;
      }, 15_000);
      await f.aws.sqs.send(new SendMessageCommand({ QueueUrl: target.queueUrl, MessageBody: body }));
    }
  });

  it('holds a hook for an instance whose Node has not registered yet, and drains the Node the moment it appears', async () => {
    const world = await f.world({ instances: 1, heartbeatTimeoutSeconds: 30 });
    const [late] = world.instances;
    await f.kubelet.core.deleteNode({ name: late!.nodeName });
    await eventually('the node to be gone', async () => !(await world.nodeExists(late!.nodeName)), 10_000);
    const lm = await f.serve(world, [...FAST, '--node-join-timeout', '60']);
    await world.terminate(late!.instanceId);
    await lm.waitForLog(/has no Node yet; waiting up to 60s for it to register/u, 30_000);
    // A pod is already bound to the node when it registers (the scheduler was quicker than the kubelet).
    await f.kubelet.createPod(world.namespace, { name: 'scheduled-too-early', nodeName: late!.nodeName, ownerKind: 'ReplicaSet' });
    // The service may cordon, drain and delete the Node before this fake kubelet has even reported it Ready.
    await f.kubelet.addNode({ name: late!.nodeName, instanceId: late!.instanceId, availabilityZone: late!.availabilityZone, privateIp: late!.privateIp })
      .catch((e: { code?: number }) => { if (e.code !== 404) throw e; });
    await completedOnce([late!.instanceId], 60_000);
    expect((await world.podsOn(late!.nodeName)).length).toBe(0);
    expect(lm.countLogs(/registered for instance .*; draining it/u)).toBe(1);
    expect(await world.nodeExists(late!.nodeName)).toBe(false);
  });

  it('completes CONTINUE for an instance that never joins the cluster, after --node-join-timeout', async () => {
    const world = await f.world({ instances: 1, heartbeatTimeoutSeconds: 30 });
    const [ghost] = world.instances;
    await f.kubelet.core.deleteNode({ name: ghost!.nodeName });
    const lm = await f.serve(world, [...FAST, '--node-join-timeout', '2']);
    await world.terminate(ghost!.instanceId);
    await completedOnce([ghost!.instanceId], 60_000);
    expect(lm.countLogs(/never registered as a Node within 2s; nothing to drain/u)).toBe(1);
  });
});
