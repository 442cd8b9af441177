import {
  DescribeWarmPoolCommand, type Instance as WarmInstance, PutWarmPoolCommand, SetDesiredCapacityCommand, TerminateInstanceInAutoScalingGroupCommand,
} from '@aws-sdk/client-auto-scaling';
import { DescribeInstancesCommand } from '@aws-sdk/client-ec2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../harness/infra.js';
import type { LifecycleManagerProcess } from '../harness/lifecycleManager.js';
import type { LifecycleActionRecord } from '../harness/moto.js';
import type { World } from '../harness/world.js';
import { e2eFixture } from './fixture.js';

const f = e2eFixture({ graceScale: 0.05 });
beforeAll(() => f.start());
afterAll(() => f.stop());

/** Short leases and visibility, as in resilience.test.ts. */
const FAST = ['--polling-interval', '1', '--drain-interval', '1', '--with-deregister=false', '--lease-duration', '5', '--visibility-timeout', '10'];

async function putWarmPool(world: World, minSize: number): Promise<void> {
  await f.aws.autoScaling.send(new PutWarmPoolCommand({
    AutoScalingGroupName: world.autoScalingGroupName, MinSize: minSize, PoolState: 'Stopped', InstanceReusePolicy: { ReuseOnScaleIn: true },
  }));
}

async function warmPool(world: World): Promise<WarmInstance[]> {
  return (await f.aws.autoScaling.send(new DescribeWarmPoolCommand({ AutoScalingGroupName: world.autoScalingGroupName }))).Instances ?? [];
}

async function ec2State(instanceId: string): Promise<string | undefined> {
  const out = await f.aws.ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }));
  return out.Reservations?.[0]?.Instances?.[0]?.State?.Name;
}

/** Waits until every action of the group has ended, then returns them. */
async function endedActions(world: World, count: number, timeoutMs: number): Promise<LifecycleActionRecord[]> {
  return eventually(`${count} lifecycle action(s) of ${world.autoScalingGroupName} to end`, async () => {
    const mine = (await f.actions()).filter((a) => a.autoScalingGroupName === world.autoScalingGroupName);
    return mine.length === count && mine.every((a) => a.result !== null) ? mine : undefined;
  }, timeoutMs, 300);
}

/** What an operator reads off /metrics: every hook processed with CONTINUE, none dropped as "not terminating". */
async function expectProcessedMetrics(lm: LifecycleManagerProcess, continued: number): Promise<void> {
  expect({
    continued: await lm.metric('lifecycle_manager_messages_total', { outcome: 'processed', reason: 'continue' }),
    abandoned: await lm.metric('lifecycle_manager_messages_total', { outcome: 'processed', reason: 'abandon' }),
    notTerminating: await lm.metric('lifecycle_manager_messages_total', { outcome: 'deleted', reason: 'instance_not_terminating' }),
  }).toEqual({ continued, abandoned: 0, notTerminating: 0 });
}

/** Exactly one CompleteLifecycleAction, CONTINUE, by the service (not the hook's DefaultResult at expiry). */
const completedByService = (lifecycleState: string) => ({ result: 'CONTINUE', resultSource: 'complete', completeCalls: 1, rejectedCompleteCalls: 0, lifecycleState });
const outcome = (a: LifecycleActionRecord) => ({ result: a.result, resultSource: a.resultSource, completeCalls: a.completeCalls, rejectedCompleteCalls: a.rejectedCompleteCalls, lifecycleState: a.lifecycleState });

describe('termination hooks in warm pools are drained and completed like any other', () => {
  it('scale-in returning an instance to the warm pool (Warmed:Pending:Wait): pods evicted, Node deleted, CONTINUE once, instance back in the pool, stopped', async () => {
    // DefaultResult ABANDON: an action that expired instead of being completed shows as ABANDON/expired.
    const world = await f.world({ instances: 2, heartbeatTimeoutSeconds: 30, podsPerNode: 2 });
    await putWarmPool(world, 0);
    const lm = await f.serve(world, FAST);
    await f.aws.autoScaling.send(new SetDesiredCapacityCommand({ AutoScalingGroupName: world.autoScalingGroupName, DesiredCapacity: 1, HonorCooldown: false }));

    const [action] = await endedActions(world, 1, 60_000);
    const victim = world.instances.find((i) => i.instanceId === action!.instanceId)!;
    const bystander = world.instances.find((i) => i !== victim)!;
    expect(outcome(action!)).toEqual(completedByService('Warmed:Pending:Wait'));
    expect(action!.destination).toBe('WarmPool');

    // The drain happened: pods evicted and gone, the Node deleted (the instance re-registers when it leaves the pool).
    expect((await world.podsOn(victim.nodeName)).map((p) => p.metadata?.name)).toEqual([]);
    expect(await world.nodeExists(victim.nodeName)).toBe(false);
    expect(lm.countLogs(new RegExp(`${victim.instanceId}> evicting pod`, 'u'))).toBe(2);
    // The instance went back to the warm pool, stopped, instead of being terminated.
    await eventually('the victim to settle in the warm pool', async () =>
      (await warmPool(world)).find((w) => w.InstanceId === victim.instanceId)?.LifecycleState === 'Warmed:Stopped', 10_000);
    expect(await ec2State(victim.instanceId)).toBe('stopped');
    // The instance that stays in service was not touched.
    const kept = await f.kubelet.core.readNode({ name: bystander.nodeName });
    expect(kept.spec?.unschedulable ?? false).toBe(false);
    expect((await world.podsOn(bystander.nodeName)).length).toBe(2);
    await expectProcessedMetrics(lm, 1);
  });

  it('terminating warm-pool instances (Warmed:Terminating:Wait): one never joined, one left a stale Unknown Node with a pod; both complete CONTINUE once', async () => {
    const world = await f.world({ instances: 1, heartbeatTimeoutSeconds: 30 });
    await putWarmPool(world, 2);
    const pool = await eventually('two instances in the warm pool', async () => {
      const warm = await warmPool(world);
      return warm.length === 2 && warm.every((w) => w.LifecycleState === 'Warmed:Stopped') ? warm.map((w) => w.InstanceId!) : undefined;
    }, 10_000);
    const [neverJoined, lingering] = pool as [string, string];
    // A warm instance is normally stopped before its kubelet joins (no Node). But one that did join before it was
    // stopped leaves its Node behind: Ready Unknown (nobody reports for it) and pods the kubelet can no longer stop.
    // Both happen; the second is the one that needs a drain, with --drain-timeout-unknown.
    const described = (await f.aws.ec2.send(new DescribeInstancesCommand({ InstanceIds: [lingering] }))).Reservations![0]!.Instances![0]!;
    const staleNode = described.PrivateDnsName!;
    await f.kubelet.addNode({ name: staleNode, instanceId: lingering, availabilityZone: described.Placement!.AvailabilityZone!, privateIp: described.PrivateIpAddress! });
    await f.kubelet.createPod(world.namespace, { name: 'left-behind', nodeName: staleNode, ownerKind: 'ReplicaSet' });
    await f.kubelet.setNodeReady(staleNode, 'Unknown');

    const lm = await f.serve(world, [...FAST, '--node-join-timeout', '2', '--drain-timeout-unknown', '2', '--drain-retries', '1']);
    for (const id of pool) {
      await f.aws.autoScaling.send(new TerminateInstanceInAutoScalingGroupCommand({ InstanceId: id, ShouldDecrementDesiredCapacity: false }));
    }
    const actions = await endedActions(world, 2, 60_000);
    for (const a of actions) {
      expect({ instance: a.instanceId, ...outcome(a) }).toEqual({ instance: a.instanceId, ...completedByService('Warmed:Terminating:Wait') });
      expect(a.origin).toBe('WarmPool');
    }
    expect(actions.map((a) => a.instanceId).sort()).toEqual([...pool].sort());

    // No Node: proven absent by a fresh read after the join window, then completed.
    expect(lm.countLogs(new RegExp(`${neverJoined}> instance ${neverJoined} never registered as a Node within 2s; nothing to drain \\(a fresh read`, 'u'))).toBe(1);
    // The stale Node: drained as an unreachable node, its pod gone, the Node deleted.
    expect(lm.countLogs(new RegExp(`${lingering}> node is in unknown state, setting drain deadline to 2s`, 'u'))).toBe(1);
    expect(lm.countLogs(new RegExp(`${lingering}> graceful force-delete succeeded after drain failure on node ${staleNode}`, 'u'))).toBe(1);
    expect(await world.podsOn(staleNode)).toEqual([]);
    expect(await world.nodeExists(staleNode)).toBe(false);
    // Both left the pool and were terminated; the member of the group kept its Node.
    await eventually('both warm instances terminated', async () => {
      const states = await Promise.all(pool.map(ec2State));
      return states.every((s) => s === 'terminated') && (await warmPool(world)).length === 0;
    }, 10_000);
    expect(await world.nodeExists(world.instances[0]!.nodeName)).toBe(true);
    await expectProcessedMetrics(lm, 2);
  });
});
