import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import * as k8s from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../harness/infra.js';
import { e2eFixture } from './fixture.js';

const f = e2eFixture();
beforeAll(() => f.start());
afterAll(() => f.stop());

/** Fast but realistic timings for the service under test (flags, never sleeps). */
const FAST = ['--polling-interval', '1', '--drain-interval', '1', '--log-level', 'debug', '--with-deregister=false'];

async function queueDepth(queueUrl: string): Promise<number> {
  const out = await f.aws.sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }));
  return Number(out.Attributes?.['ApproximateNumberOfMessages'] ?? 0) + Number(out.Attributes?.['ApproximateNumberOfMessagesNotVisible'] ?? 0);
}

describe('serve', () => {
  it('drains a terminating instance end to end: evicts its pods (not DaemonSet or mirror pods), deletes the Node, completes CONTINUE, deletes the message', async () => {
    const world = await f.world({ instances: 2, heartbeatTimeoutSeconds: 30, podsPerNode: 3 });
    const [victim, survivor] = world.instances;
    await f.kubelet.createPod(world.namespace, { name: 'ds-pod', nodeName: victim!.nodeName, ownerKind: 'DaemonSet' });
    await f.kubelet.createPod(world.namespace, { name: 'static-pod', nodeName: victim!.nodeName, mirror: true });
    await f.kubelet.createPod(world.namespace, { name: 'scratch-pod', nodeName: victim!.nodeName, emptyDir: true, ownerKind: 'ReplicaSet' });
    const lm = await f.serve(world, FAST);

    await world.terminate(victim!.instanceId);

    const [action] = await eventually('the lifecycle action to complete', async () => {
      const a = await f.actions(victim!.instanceId);
      return a[0]?.result ? a : undefined;
    }, 60_000);
    expect(action).toMatchObject({ result: 'CONTINUE', resultSource: 'complete', completeCalls: 1 });
    expect(action!.heartbeats).toBeGreaterThanOrEqual(1);
    expect(await world.lifecycleState(victim!.instanceId)).toBeUndefined(); // terminated, gone from the group
    expect(await world.nodeExists(victim!.nodeName)).toBe(false);
    expect(await world.nodeExists(survivor!.nodeName)).toBe(true);
    // The evicted pods are gone; the DaemonSet and mirror pods were left alone (the node object is deleted anyway).
    const remaining = (await world.podsOn(victim!.nodeName)).map((p) => p.metadata!.name).sort();
    expect(remaining).toEqual(['ds-pod', 'static-pod']);
    expect((await world.podsOn(survivor!.nodeName)).length).toBe(3);

    const reasons = (await world.nodeEvents(victim!.nodeName)).map((e) => e.reason);
    expect(reasons).toEqual(expect.arrayContaining(['LifecycleHookReceived', 'NodeDrainSucceeded', 'NodeDeleteSucceeded', 'LifecycleHookProcessed']));
    await eventually('the queue to be empty (message and test notification deleted)', async () => (await queueDepth(world.queueUrl)) === 0, 10_000);
    expect(lm.countLogs(/received test notification for/u)).toBe(1);
    expect(lm.countLogs(new RegExp(`${victim!.instanceId}> sending heartbeat \\(1\\)`, 'u'))).toBe(1);
    expect(await lm.metric('lifecycle_manager_successful_events_total')).toBe(1);
    expect(await lm.metric('lifecycle_manager_successful_node_drain_total')).toBe(1);
    expect(await lm.metric('lifecycle_manager_failed_node_drain_total')).toBe(0);
    expect(lm.countLogs(/escalating to graceful force-delete/u)).toBe(0);
    expect(await lm.metric('lifecycle_manager_successful_node_delete_total')).toBe(1);
    expect(await lm.metric('lifecycle_manager_terminating_instances_count')).toBe(0);
    expect(await lm.metric('lifecycle_manager_messages_total', { outcome: 'deleted', reason: 'test_notification' })).toBe(1);
    expect(await lm.metric('lifecycle_manager_messages_total', { outcome: 'processed', reason: 'continue' })).toBe(1);
    expect(await lm.metric('lifecycle_manager_rejected_events_total')).toBe(1); // the test notification
  });

  it('retries a drain blocked by a PodDisruptionBudget and succeeds on the second attempt once the budget allows it', async () => {
    const world = await f.world({ instances: 2, heartbeatTimeoutSeconds: 30 });
    const [victim, other] = world.instances;
    await f.kubelet.createPod(world.namespace, { name: 'web-1', nodeName: victim!.nodeName, labels: { app: 'web' }, ownerKind: 'ReplicaSet' });
    await f.kubelet.createPdb(world.namespace, { name: 'web', matchLabels: { app: 'web' }, minAvailable: 1 });
    const lm = await f.serve(world, [...FAST, '--drain-timeout', '3', '--drain-retries', '3']);

    await world.terminate(victim!.instanceId);
    await lm.waitForLog(/failed to drain node .*blocked by PodDisruptionBudget/u, 30_000);
    // A replacement becomes Ready elsewhere: the budget now allows one disruption.
    await f.kubelet.createPod(world.namespace, { name: 'web-2', nodeName: other!.nodeName, labels: { app: 'web' }, ownerKind: 'ReplicaSet' });

    await eventually('CONTINUE', async () => (await f.actions(victim!.instanceId))[0]?.result === 'CONTINUE', 60_000);
    expect(lm.countLogs(/retrying drain, node/u)).toBeGreaterThanOrEqual(1);
    expect(lm.countLogs(/escalating to graceful force-delete/u)).toBe(0);
    expect((await world.podsOn(victim!.nodeName)).length).toBe(0);
    expect((await world.podsOn(other!.nodeName)).map((p) => p.metadata!.name)).toContain('web-2');
  });

  it('cordons the node again in the next drain attempt when someone uncordons it mid-drain', async () => {
    const world = await f.world({ instances: 2, heartbeatTimeoutSeconds: 30 });
    const [victim, other] = world.instances;
    await f.kubelet.createPod(world.namespace, { name: 'web-1', nodeName: victim!.nodeName, labels: { app: 'web' }, ownerKind: 'ReplicaSet' });
    await f.kubelet.createPdb(world.namespace, { name: 'web', matchLabels: { app: 'web' }, minAvailable: 1 });
    const lm = await f.serve(world, [...FAST, '--drain-timeout', '3', '--drain-retries', '3']);
    const unschedulable = async () => (await f.kubelet.core.readNode({ name: victim!.nodeName })).spec?.unschedulable === true;

    await world.terminate(victim!.instanceId);
    await eventually('the node to be cordoned', unschedulable, 30_000, 100);
    // Once the first attempt is under way (an attempt that starts after the uncordon cordons again itself, and the
    // retry would never be needed)…
    await lm.waitForLog(new RegExp(`eviction of pod ${world.namespace}/web-1 blocked by its PodDisruptionBudget`, 'u'), 30_000);
    // … someone (a script, a colleague) uncordons it while the budget holds the drain up.
    await f.kubelet.core.patchNode({ name: victim!.nodeName, body: { spec: { unschedulable: false } } }, k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch));
    await eventually('the node to be cordoned again by a drain attempt', unschedulable, 30_000, 100);
    expect(await f.actions(victim!.instanceId).then((a) => a[0]?.result ?? null)).toBeNull();
    await f.kubelet.createPod(world.namespace, { name: 'web-2', nodeName: other!.nodeName, labels: { app: 'web' }, ownerKind: 'ReplicaSet' });
    await eventually('CONTINUE', async () => (await f.actions(victim!.instanceId))[0]?.result === 'CONTINUE', 60_000);
    expect(lm.countLogs(/retrying drain, node/u)).toBeGreaterThanOrEqual(1);
  });

  it('escalates to a capped graceful delete when a PodDisruptionBudget never unblocks, then completes CONTINUE', async () => {
    const world = await f.world({ instances: 1, heartbeatTimeoutSeconds: 30 });
    const [victim] = world.instances;
    await f.kubelet.createPod(world.namespace, { name: 'db-0', nodeName: victim!.nodeName, labels: { app: 'db' }, ownerKind: 'StatefulSet', terminationGracePeriodSeconds: 600 });
    await f.kubelet.createPdb(world.namespace, { name: 'db', matchLabels: { app: 'db' }, minAvailable: 1 });
    const lm = await f.serve(world, [...FAST, '--drain-timeout', '2', '--drain-retries', '2', '--max-termination-grace-period', '5', '--max-time-to-process', '120', '--node-join-timeout', '5', '--volume-detach-timeout', '0']);

    await world.terminate(victim!.instanceId);

    await eventually('CONTINUE', async () => (await f.actions(victim!.instanceId))[0]?.result === 'CONTINUE', 60_000);
    expect(lm.countLogs(/drain failed; escalating to graceful force-delete \(grace=5s\)/u)).toBe(1);
    expect(lm.countLogs(/deleting pod .*\/db-0 on node .* \(grace period: 5s\)/u)).toBe(1);
    const reasons = (await world.nodeEvents(victim!.nodeName)).map((e) => e.reason);
    expect(reasons).toEqual(expect.arrayContaining(['NodeDrainFailed', 'GracefulPodDeletionAfterDrainFailed', 'NodeDrainSucceeded']));
    expect(await lm.metric('lifecycle_manager_failed_node_drain_total')).toBe(1);
    expect(await lm.metric('lifecycle_manager_successful_node_drain_total')).toBe(1);
  });

  it('uses --drain-timeout-unknown for a node whose Ready condition is Unknown and force-deletes pods its dead kubelet cannot stop', async () => {
    const world = await f.world({ instances: 1, heartbeatTimeoutSeconds: 30, podsPerNode: 2 });
    const [victim] = world.instances;
    await f.kubelet.setNodeReady(victim!.nodeName, 'Unknown');
    const lm = await f.serve(world, [...FAST, '--drain-timeout', '300', '--drain-timeout-unknown', '1', '--drain-retries', '2', '--max-termination-grace-period', '60']);

    await world.terminate(victim!.instanceId);

    await eventually('CONTINUE', async () => (await f.actions(victim!.instanceId))[0]?.result === 'CONTINUE', 60_000);
    expect(lm.countLogs(/node is in unknown state, setting drain deadline to 1s/u)).toBe(1);
    expect(lm.countLogs(/global timeout reached: 1s/u)).toBe(2);
    expect(lm.countLogs(/\(grace period: 0s\)/u)).toBe(2);
    expect(await world.nodeExists(victim!.nodeName)).toBe(false);
  });

  it('leaves a malformed message for the dead-letter queue when the queue has a redrive policy', async () => {
    const { CreateQueueCommand, GetQueueAttributesCommand: Attributes } = await import('@aws-sdk/client-sqs');
    const dlqUrl = (await f.aws.sqs.send(new CreateQueueCommand({ QueueName: `dlq-${Date.now()}` }))).QueueUrl!;
    const dlqArn = (await f.aws.sqs.send(new Attributes({ QueueUrl: dlqUrl, AttributeNames: ['QueueArn'] }))).Attributes!['QueueArn']!;
    const world = await f.world({ instances: 1, heartbeatTimeoutSeconds: 30, queueAttributes: { RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount: '2' }) } });
    const lm = await f.serve(world, FAST);
    await world.sendRaw('not json at all');

    await eventually('the poison message in the dead-letter queue', async () => (await queueDepth(dlqUrl)) === 1, 30_000);
    expect(await queueDepth(world.queueUrl)).toBe(0);
    expect(lm.countLogs(/malformed message .*leaving it for the dead-letter queue/u)).toBe(2); // received twice, then moved by SQS
    expect(await lm.metric('lifecycle_manager_messages_total', { outcome: 'left_for_redelivery', reason: 'not_json' })).toBe(2);
  });

  it('deletes a test notification and a malformed message exactly once each, without looping', async () => {
    const world = await f.world({ instances: 1, heartbeatTimeoutSeconds: 30 });
    const lm = await f.serve(world, [...FAST, '--visibility-timeout', '10']);
    await world.sendRaw('{"LifecycleTransition": "autoscaling:EC2_INSTANCE_TERMINATING", "EC2InstanceId": 42');
    await world.sendRaw(JSON.stringify({ LifecycleTransition: 'autoscaling:EC2_INSTANCE_LAUNCHING', EC2InstanceId: 'i-0123456789abcdef0', LifecycleHookName: 'h', AutoScalingGroupName: 'g', LifecycleActionToken: 't' }));

    await eventually('the queue to be empty', async () => (await queueDepth(world.queueUrl)) === 0, 20_000);
    expect(await lm.metric('lifecycle_manager_messages_total', { outcome: 'deleted', reason: 'not_json' })).toBe(1);
    expect(await lm.metric('lifecycle_manager_messages_total', { outcome: 'deleted', reason: 'launch_transition' })).toBe(1);
    expect(await lm.metric('lifecycle_manager_messages_total', { outcome: 'deleted', reason: 'test_notification' })).toBe(1);
    expect(lm.countLogs(/malformed message .*deleting it/u)).toBe(1);
    // Three more polls later nothing has come back.
    await lm.waitForLog(/no messages received in interval/u, 10_000);
    expect(await lm.metric('lifecycle_manager_messages_total')).toBe(3);
  });
});
