import { DeleteLifecycleHookCommand, DescribeWarmPoolCommand, PutWarmPoolCommand } from '@aws-sdk/client-auto-scaling';
import { DescribeInstancesCommand } from '@aws-sdk/client-ec2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../harness/infra.js';
import { LAUNCHING, joinNode, putLaunchHook, scaleOut } from '../harness/launches.js';
import type { LifecycleActionRecord } from '../harness/moto.js';
import { WebhookServer } from '../harness/webhookServer.js';
import type { World, WorldInstance } from '../harness/world.js';
import { e2eFixture } from './fixture.js';

const f = e2eFixture();
beforeAll(() => f.start());
afterAll(() => f.stop());

const FAST = ['--polling-interval', '1', '--with-deregister=false', '--lease-duration', '5', '--visibility-timeout', '10'];
const LAUNCH = [...FAST, '--launch-hooks'];

/**
 * A world (one member, a termination hook) plus a launch hook. DefaultResult CONTINUE, so that an action the
 * service did not complete shows as CONTINUE/expired, never as the ABANDON under test.
 */
async function launchWorld(): Promise<World & { launchHook: string }> {
  const world = await f.world({ instances: 1, heartbeatTimeoutSeconds: 30 });
  const launchHook = await putLaunchHook(f.aws, world, { heartbeatTimeoutSeconds: 10, defaultResult: 'CONTINUE' });
  return { ...world, launchHook };
}

/** Deleting the hook ends what is still pending (CONTINUE), so no replacement keeps launching after the test. */
async function removeLaunchHook(world: World & { launchHook: string }): Promise<void> {
  await f.aws.autoScaling.send(new DeleteLifecycleHookCommand({ AutoScalingGroupName: world.autoScalingGroupName, LifecycleHookName: world.launchHook }));
}

async function launchAction(instanceId: string): Promise<LifecycleActionRecord | undefined> {
  return (await f.actions(instanceId)).find((a) => a.lifecycleHookName !== 'lifecycle-manager');
}

async function ended(instanceId: string, timeoutMs: number): Promise<LifecycleActionRecord> {
  return eventually(`the launch action of ${instanceId} to end`, async () => {
    const a = await launchAction(instanceId);
    return a && a.result !== null ? a : undefined;
  }, timeoutMs, 200);
}

async function ec2State(instanceId: string): Promise<string | undefined> {
  const out = await f.aws.ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }));
  return out.Reservations?.[0]?.Instances?.[0]?.State?.Name;
}

const reasons = async (world: World, node: string): Promise<string[]> => (await world.nodeEvents(node)).map((e) => `${e.type}/${e.reason}`).sort();

describe('launch lifecycle hooks (--launch-hooks)', () => {
  it('waits, heartbeating, while the new Node registers Not Ready, and completes CONTINUE once, after it is Ready', async () => {
    const world = await launchWorld();
    const lm = await f.serve(world, [...LAUNCH, '--launch-timeout', '60']);
    const [instance] = await scaleOut(f.aws, world) as [WorldInstance];
    expect(await world.lifecycleState(instance.instanceId)).toBe('Pending:Wait');
    await lm.waitForLog(new RegExp(`${instance.instanceId}> instance ${instance.instanceId} has no Node yet; waiting up to \\d+s`, 'u'), 20_000);
    await joinNode(f.kubelet, instance, 'False');
    await lm.waitForLog(new RegExp(`${instance.instanceId}> node ${instance.nodeName} of instance ${instance.instanceId} is registered, not Ready \\((Unknown|False)\\)`, 'u'), 20_000);
    // Heartbeats keep the 10 s hook alive while the Node is not Ready: still pending after 12 s.
    await new Promise((r) => setTimeout(r, 12_000));
    const waiting = await launchAction(instance.instanceId);
    expect({ result: waiting?.result, completeCalls: waiting?.completeCalls }).toEqual({ result: null, completeCalls: 0 });
    expect(waiting!.heartbeats).toBeGreaterThanOrEqual(1);

    const readyAt = Date.now();
    await f.kubelet.setNodeReady(instance.nodeName, 'True');
    const action = await ended(instance.instanceId, 20_000);
    expect(action).toMatchObject({ result: 'CONTINUE', resultSource: 'complete', completeCalls: 1, rejectedCompleteCalls: 0, lifecycleState: 'Pending:Wait', origin: 'EC2', destination: 'AutoScalingGroup' });
    expect(Date.parse(action.completedAt!)).toBeGreaterThanOrEqual(readyAt - 1000);
    expect(await world.lifecycleState(instance.instanceId)).toBe('InService');
    // Nothing in the cluster was changed: the Node is schedulable, its Events say it is ready.
    expect((await f.kubelet.core.readNode({ name: instance.nodeName })).spec?.unschedulable ?? false).toBe(false);
    await eventually('the LaunchReady Event', async () => (await reasons(world, instance.nodeName)).includes('Normal/LaunchReady'), 10_000);
    expect(await lm.metric('lifecycle_manager_launches_total', { result: 'CONTINUE', reason: 'ready' })).toBe(1);
    expect(await lm.metric('lifecycle_manager_messages_total', { outcome: 'processed', reason: 'launch_continue' })).toBe(1);
    expect(await lm.metric('lifecycle_manager_successful_events_total')).toBe(0);
    await removeLaunchHook(world);
  });

  it('abandons, loudly, a launch whose Node is still Not Ready at --launch-timeout: Auto Scaling terminates the instance', async () => {
    const world = await launchWorld();
    const lm = await f.serve(world, [...LAUNCH, '--launch-timeout', '4']);
    const [instance] = await scaleOut(f.aws, world) as [WorldInstance];
    await joinNode(f.kubelet, instance, 'False');
    const action = await ended(instance.instanceId, 30_000);
    expect(action).toMatchObject({ result: 'ABANDON', resultSource: 'complete', completeCalls: 1 });
    // Not before the bound: the message was received at most a poll before the action started.
    expect(Date.parse(action.completedAt!) - Date.parse(action.startedAt!)).toBeGreaterThanOrEqual(3_500);
    await eventually('the instance to be terminated', async () => ['shutting-down', 'terminated'].includes((await ec2State(instance.instanceId)) ?? ''), 10_000);
    const line = await lm.waitForLog(new RegExp(`${instance.instanceId}> launch of instance ${instance.instanceId} \\(event [^)]+\\) abandoned after`, 'u'), 10_000);
    expect(line).toMatch(/is not Ready 4s after the launch \(--launch-timeout\): its Ready condition is False; Auto Scaling terminates the instance/u);
    await eventually('the Warning Events on the Node', async () => {
      const r = await reasons(world, instance.nodeName);
      return r.includes('Warning/LaunchAbandoned') && r.includes('Warning/LifecycleStepFailed');
    }, 10_000);
    const abandoned = (await world.nodeEvents(instance.nodeName)).find((e) => e.reason === 'LaunchAbandoned')!;
    expect(abandoned.message).toMatch(new RegExp(`^launch of instance ${instance.instanceId} abandoned after [\\d.]+s: await_node_ready: node ${instance.nodeName} `, 'u'));
    expect(await lm.metric('lifecycle_manager_launches_total', { result: 'ABANDON', reason: 'node_not_ready' })).toBeGreaterThanOrEqual(1);
    expect(await lm.metric('lifecycle_manager_step_failures_total', { step: 'await_node_ready', class: 'timeout', policy: 'abandon' })).toBeGreaterThanOrEqual(1);
    await removeLaunchHook(world);
  });

  it('abandons a launch whose instance never registers a Node, after a fresh read confirms it (log and metric: there is no Node for an Event)', async () => {
    const world = await launchWorld();
    const lm = await f.serve(world, [...LAUNCH, '--launch-timeout', '3']);
    const [instance] = await scaleOut(f.aws, world) as [WorldInstance];
    const action = await ended(instance.instanceId, 30_000);
    expect(action).toMatchObject({ result: 'ABANDON', resultSource: 'complete', completeCalls: 1 });
    await lm.waitForLog(new RegExp(`${instance.instanceId}> launch of instance ${instance.instanceId} \\(event [^)]+\\) abandoned after [\\d.]+s: await_node_ready: instance ${instance.instanceId} registered no Node within 3s \\(--launch-timeout; a fresh read from the apiserver confirms it has none\\)`, 'u'), 10_000);
    expect(await lm.metric('lifecycle_manager_launches_total', { result: 'ABANDON', reason: 'no_node' })).toBeGreaterThanOrEqual(1);
    await removeLaunchHook(world);
  });

  it('with --launch-wait-daemonsets waits for the DaemonSet pods on the Ready Node, not for other pods', async () => {
    const world = await launchWorld();
    const lm = await f.serve(world, [...LAUNCH, '--launch-timeout', '60', '--launch-wait-daemonsets']);
    const [instance] = await scaleOut(f.aws, world) as [WorldInstance];
    // As on a real node: the DaemonSet pods are bound to it as soon as it registers (they tolerate not-ready), and
    // the Node turns Ready before its CNI or log agent pod is.
    await joinNode(f.kubelet, instance, 'False');
    await f.kubelet.createPod(world.namespace, { name: `cni-${world.id}`, nodeName: instance.nodeName, ownerKind: 'DaemonSet', ready: false });
    await f.kubelet.createPod(world.namespace, { name: `app-${world.id}`, nodeName: instance.nodeName, ownerKind: 'ReplicaSet', ready: false });
    await f.kubelet.setNodeReady(instance.nodeName, 'True');
    await lm.waitForLog(new RegExp(`${instance.instanceId}> waiting up to \\d+s for 1 of the 1 DaemonSet pods on node ${instance.nodeName} to be Ready: ${world.namespace}/cni-${world.id}`, 'u'), 20_000);
    await new Promise((r) => setTimeout(r, 3_000));
    expect((await launchAction(instance.instanceId))?.result).toBeNull();

    await f.kubelet.setPodReady(world.namespace, `cni-${world.id}`, true);
    const action = await ended(instance.instanceId, 20_000);
    expect(action).toMatchObject({ result: 'CONTINUE', resultSource: 'complete', completeCalls: 1 });
    await eventually('the LaunchReady Event', async () => (await world.nodeEvents(instance.nodeName)).find((e) => e.reason === 'LaunchReady'), 10_000)
      .then((e) => expect(e.message).toMatch(/is Ready, and so are its DaemonSet pods, after/u));
    await removeLaunchHook(world);
  });

  it('completes a launch into the warm pool (Warmed:Pending:Wait) CONTINUE without waiting for a Node', async () => {
    const world = await launchWorld();
    const lm = await f.serve(world, [...LAUNCH, '--launch-timeout', '600']);
    await f.aws.autoScaling.send(new PutWarmPoolCommand({ AutoScalingGroupName: world.autoScalingGroupName, MinSize: 1, PoolState: 'Stopped' }));
    const pool = (await f.aws.autoScaling.send(new DescribeWarmPoolCommand({ AutoScalingGroupName: world.autoScalingGroupName }))).Instances ?? [];
    const warm = pool[0]!.InstanceId!;
    expect(pool.map((p) => p.LifecycleState)).toEqual(['Warmed:Pending:Wait']);
    const action = await ended(warm, 20_000);
    expect(action).toMatchObject({ result: 'CONTINUE', resultSource: 'complete', completeCalls: 1, lifecycleState: 'Warmed:Pending:Wait', destination: 'WarmPool' });
    // Well before any Node could be waited for: the bound is 600 s and no Node ever registered.
    expect(Date.parse(action.completedAt!) - Date.parse(action.startedAt!)).toBeLessThan(15_000);
    expect(lm.countLogs(new RegExp(`${warm}> instance ${warm} is launching into the warm pool \\(Warmed:Pending:Wait\\)`, 'u'))).toBe(1);
    await eventually('the instance to settle in the pool, stopped', async () => {
      const now = (await f.aws.autoScaling.send(new DescribeWarmPoolCommand({ AutoScalingGroupName: world.autoScalingGroupName }))).Instances ?? [];
      return now.find((p) => p.InstanceId === warm)?.LifecycleState === 'Warmed:Stopped';
    }, 10_000);
    expect(await lm.metric('lifecycle_manager_launches_total', { result: 'CONTINUE', reason: 'warm_pool' })).toBe(1);
    await removeLaunchHook(world);
  });

  it('does not act on a launch message for a group without that launch hook, or for an instance not in Pending:Wait', async () => {
    const world = await launchWorld();
    const lm = await f.serve(world, LAUNCH);
    const member = world.instances[0]!;
    const body = (hook: string): string => JSON.stringify({
      Origin: 'EC2', Destination: 'AutoScalingGroup', Service: 'AWS Auto Scaling', Time: new Date().toISOString(), AccountId: '123456789012',
      RequestId: `r-${hook}`, LifecycleTransition: LAUNCHING, LifecycleActionToken: `00000000-0000-4000-8000-00000000000${hook === 'unknown' ? 1 : 2}`,
      EC2InstanceId: member.instanceId, LifecycleHookName: hook, AutoScalingGroupName: world.autoScalingGroupName,
    });
    await world.sendRaw(body('unknown'));
    await world.sendRaw(body(world.launchHook));
    await eventually('both messages dropped', async () =>
      (await lm.metric('lifecycle_manager_messages_total', { outcome: 'deleted', reason: 'hook_not_found' })) === 1
      && (await lm.metric('lifecycle_manager_messages_total', { outcome: 'deleted', reason: 'instance_not_launching' })) === 1, 20_000);
    expect(lm.countLogs(new RegExp(`instance ${member.instanceId} is InService, not Pending:Wait or Warmed:Pending:Wait`, 'u'))).toBe(1);
    expect(await f.actions(member.instanceId)).toEqual([]);
    expect(await lm.metric('lifecycle_manager_launches_total')).toBe(0);
    expect(await world.lifecycleState(member.instanceId)).toBe('InService');
    await removeLaunchHook(world);
  });

  it('with --dry-run plans the launch and leaves it alone: no heartbeat, no completion, the message deleted', async () => {
    const world = await launchWorld();
    const lm = await f.serve(world, [...LAUNCH, '--dry-run']);
    const [instance] = await scaleOut(f.aws, world) as [WorldInstance];
    const line = await lm.waitForLog(new RegExp(`${instance.instanceId}> dry run for launch event `, 'u'), 20_000);
    expect(line).toMatch(/would wait up to 600s for .* to be Ready, then complete CONTINUE \(ABANDON if it is not\); instead the hook ends with its DefaultResult \(CONTINUE\)/u);
    expect(await lm.metric('lifecycle_manager_messages_total', { outcome: 'deleted', reason: 'dry_run' })).toBe(1);
    const action = await ended(instance.instanceId, 20_000);
    expect(action).toMatchObject({ result: 'CONTINUE', resultSource: 'expired', completeCalls: 0, heartbeats: 0 });
  });

  it('without --launch-hooks deletes launch messages unprocessed, as before: the hook ends with its DefaultResult', async () => {
    const world = await launchWorld();
    const lm = await f.serve(world, FAST);
    const [instance] = await scaleOut(f.aws, world) as [WorldInstance];
    await joinNode(f.kubelet, instance, 'True');
    await eventually('the launch message dropped', async () =>
      (await lm.metric('lifecycle_manager_messages_total', { outcome: 'deleted', reason: 'launch_transition' })) === 1, 20_000);
    expect(lm.countLogs(/is not a termination lifecycle action \(launch lifecycle actions are not handled without --launch-hooks\); deleting it/u)).toBe(1);
    const action = await ended(instance.instanceId, 20_000);
    expect(action).toMatchObject({ result: 'CONTINUE', resultSource: 'expired', completeCalls: 0, heartbeats: 0 });
    expect(await reasons(world, instance.nodeName)).toEqual([]);
  });

  it('with --webhook-url posts notices for a termination and none for a launch', async () => {
    const server = await WebhookServer.start();
    try {
      const world = await launchWorld();
      const lm = await f.serve(world, [...LAUNCH, '--launch-timeout', '60', '--webhook-url', server.url()]);
      const [launched] = await scaleOut(f.aws, world) as [WorldInstance];
      await joinNode(f.kubelet, launched, 'True');
      expect(await ended(launched.instanceId, 30_000)).toMatchObject({ result: 'CONTINUE', completeCalls: 1 });
      const terminated = world.instances[0]!.instanceId;
      await world.terminate(terminated);
      await eventually('the termination\'s completed notice', async () => server.bodies().some((b) => /completed CONTINUE/u.test((b as { text: string }).text)), 60_000, 200);
      await lm.waitForLog(new RegExp(`${launched.instanceId}> launch event .* completed with CONTINUE`, 'u'), 10_000);
      const texts = server.bodies().map((b) => (b as { text: string }).text);
      process.stderr.write(`webhook server saw:\n${server.transcript()}\n`);
      expect(texts.length).toBeGreaterThanOrEqual(2);
      for (const text of texts) {
        expect(text).toContain(terminated);
        expect(text).not.toContain(launched.instanceId);
      }
      expect(await lm.metric('lifecycle_manager_launches_total', { result: 'CONTINUE', reason: 'ready' })).toBe(1);
      await removeLaunchHook(world);
    } finally {
      await server.close();
    }
  });
});
