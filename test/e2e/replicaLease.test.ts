import * as k8s from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { leaseName } from '../../src/kube/leaseRecords.js';
import { SERVICE_NAMESPACE, adminKubeConfig, eventually } from '../harness/infra.js';
import type { World } from '../harness/world.js';
import { e2eFixture } from './fixture.js';

/**
 * Ownership liveness is one Lease per replica (`lifecycle-manager-replica-<identity>`), renewed for all its actions:
 * an action's own Lease is written when it is claimed, when a phase lasts, and when it ends — never renewed — and no
 * other replica takes it over while its holder's replica Lease is renewed. An action Lease written by an older
 * release (renewed per action, no replica Lease) stays its holder's until its own renewTime runs out.
 */
const f = e2eFixture({ graceScale: 0.05 });
beforeAll(() => f.start());
afterAll(() => f.stop());

const LEASE_SECONDS = 5;
const FAST = ['--polling-interval', '1', '--drain-interval', '1', '--with-deregister=false', '--lease-duration', String(LEASE_SECONDS), '--visibility-timeout', '10'];
const ANNOTATION = 'lifecycle-manager.io';
const coordination = adminKubeConfig(f.info).makeApiClient(k8s.CoordinationV1Api);

async function actionLease(instanceId: string): Promise<k8s.V1Lease | undefined> {
  const list = await coordination.listNamespacedLease({ namespace: SERVICE_NAMESPACE, labelSelector: 'app.kubernetes.io/managed-by=lifecycle-manager' });
  return list.items.find((l) => l.metadata?.name?.startsWith(`lifecycle-${instanceId}-`));
}

async function replicaLease(identity: string): Promise<k8s.V1Lease | undefined> {
  return coordination.readNamespacedLease({ name: `lifecycle-manager-replica-${identity}`, namespace: SERVICE_NAMESPACE })
    .catch((e: { code?: number }) => { if (e.code === 404) return undefined; throw e; });
}

const renewedAtMs = (l: k8s.V1Lease | undefined): number => new Date(l?.spec?.renewTime ?? 0).getTime();

async function completedOnce(instanceId: string): Promise<void> {
  const [action] = await eventually(`the action of ${instanceId} to end`, async () => {
    const mine = await f.actions(instanceId);
    return mine.length === 1 && mine[0]!.result !== null ? mine : undefined;
  }, 60_000, 300);
  expect({ result: action!.result, source: action!.resultSource, completes: action!.completeCalls }).toEqual({ result: 'CONTINUE', source: 'complete', completes: 1 });
}

async function heldPod(world: World, name: string): Promise<void> {
  await f.kubelet.createPod(world.namespace, { name, nodeName: world.instances[0]!.nodeName, ownerKind: 'ReplicaSet' });
  f.kubelet.hold(world.namespace, name);
}

describe('one Lease per replica', () => {
  it('an action held for several lease durations gets no Lease renewal, another replica leaves it alone while its owner\'s replica Lease is renewed, and takes it over only once that Lease expired after kill -9', async () => {
    const world = await f.world({ instances: 1, heartbeatTimeoutSeconds: 30 });
    const [instance] = world.instances;
    await heldPod(world, 'app');
    const a = await f.serve(world, FAST, { env: { POD_NAME: 'replica-a' } });
    await world.terminate(instance!.instanceId);
    await a.waitForLog(new RegExp(`${instance!.instanceId}> evicting pod`, 'u'), 30_000);
    const b = await f.serve(world, FAST, { env: { POD_NAME: 'replica-b' } });
    // The drain phase has lasted a third of the lease duration: written once, then left alone.
    const written = await eventually('the draining phase recorded', async () => {
      const l = await actionLease(instance!.instanceId);
      return l?.metadata?.annotations?.[`${ANNOTATION}/phase`] === 'draining' ? l : undefined;
    }, 15_000, 200);
    const replicaBefore = await replicaLease('replica-a');
    expect(replicaBefore?.spec).toMatchObject({ holderIdentity: 'replica-a', leaseDurationSeconds: LEASE_SECONDS });
    expect(replicaBefore?.metadata?.labels?.[`${ANNOTATION}/kind`]).toBe('replica');

    await new Promise((r) => setTimeout(r, 2.5 * LEASE_SECONDS * 1000));
    const still = await actionLease(instance!.instanceId);
    expect(still?.metadata?.resourceVersion).toBe(written.metadata?.resourceVersion);
    expect(still?.spec?.holderIdentity).toBe('replica-a');
    // Its own renewal ran out long ago; its owner's replica Lease is what keeps it replica-a's.
    expect(renewedAtMs(still) + LEASE_SECONDS * 1000).toBeLessThan(Date.now() - LEASE_SECONDS * 1000);
    expect(renewedAtMs(await replicaLease('replica-a'))).toBeGreaterThan(renewedAtMs(replicaBefore));
    expect(b.countLogs(new RegExp(`${instance!.instanceId}> (found event|resuming event)`, 'u'))).toBe(0);

    await a.kill();
    const killedAtMs = Date.now();
    await b.waitForLog(new RegExp(`${instance!.instanceId}> (found event .* held by replica-a|resuming event .*previously held by replica-a)`, 'u'), 30_000);
    const takenOverAtMs = Date.now();
    const lastRenewalMs = renewedAtMs(await replicaLease('replica-a'));
    process.stderr.write(`replica lease: taken over ${((takenOverAtMs - killedAtMs) / 1000).toFixed(1)}s after kill -9, ${((takenOverAtMs - lastRenewalMs) / 1000).toFixed(1)}s after replica-a's last renewal (lease duration ${LEASE_SECONDS}s)\n`);
    expect(takenOverAtMs).toBeGreaterThanOrEqual(lastRenewalMs + LEASE_SECONDS * 1000);
    await eventually('replica-b to hold the action', async () => (await actionLease(instance!.instanceId))?.spec?.holderIdentity === 'replica-b', 10_000, 100);

    f.kubelet.release(world.namespace, 'app');
    await completedOnce(instance!.instanceId);
    await eventually('the action Lease released', async () => (await actionLease(instance!.instanceId)) === undefined, 15_000);
    // A graceful stop deletes the replica's Lease after handing its actions over.
    expect(await replicaLease('replica-b')).toBeDefined();
    await b.stop();
    expect(await replicaLease('replica-b')).toBeUndefined();
  });

  it('leaves an action Lease written by an older release (renewed per action, no replica Lease) to its holder until its own renewal runs out', async () => {
    const world = await f.world({ instances: 1, heartbeatTimeoutSeconds: 30, podsPerNode: 1 });
    const [instance] = world.instances;
    await world.terminate(instance!.instanceId);
    const OLD_LEASE_SECONDS = 10;
    const micro = (ms: number) => new Date(ms).toISOString().replace(/Z$/u, '000Z') as unknown as Date;
    const hook = { autoScalingGroupName: world.autoScalingGroupName, lifecycleHookName: world.lifecycleHookName, instanceId: instance!.instanceId };
    const name = leaseName(hook);
    const token = await eventually('the pending lifecycle action', async () => (await f.actions(instance!.instanceId))[0]?.token, 15_000, 200);
    const body = (renewMs: number, resourceVersion?: string): k8s.V1Lease => ({
      metadata: {
        name, ...(resourceVersion ? { resourceVersion } : {}),
        labels: { 'app.kubernetes.io/managed-by': 'lifecycle-manager', [`${ANNOTATION}/queue`]: world.queueName },
        annotations: {
          [`${ANNOTATION}/action`]: JSON.stringify({ asg: hook.autoScalingGroupName, hook: hook.lifecycleHookName, instanceId: hook.instanceId, token, requestId: 'old', format: 'autoscaling' }),
          [`${ANNOTATION}/phase`]: 'verified', [`${ANNOTATION}/received-at`]: new Date(startedAtMs).toISOString(),
          [`${ANNOTATION}/deadline`]: new Date(startedAtMs + 3_600_000).toISOString(), [`${ANNOTATION}/heartbeat-timeout-seconds`]: '30',
        },
      },
      spec: { holderIdentity: 'replica-of-0.2', leaseDurationSeconds: OLD_LEASE_SECONDS, acquireTime: micro(startedAtMs), renewTime: micro(renewMs) },
    });
    const startedAtMs = Date.now();
    const created = await coordination.createNamespacedLease({ namespace: SERVICE_NAMESPACE, body: body(startedAtMs) });
    const lm = await f.serve(world, FAST);
    await lm.waitForLog(new RegExp(`${instance!.instanceId}> event .* is being processed by replica-of-0.2`, 'u'), 30_000);
    // The older replica renews once more, 6 s in: the record is its holder's until its lease duration after that.
    await new Promise((r) => setTimeout(r, Math.max(0, startedAtMs + 6_000 - Date.now())));
    const renewMs = Date.now();
    await coordination.replaceNamespacedLease({ name, namespace: SERVICE_NAMESPACE, body: body(renewMs, created.metadata?.resourceVersion) });
    const taken = new RegExp(`${instance!.instanceId}> (found event .* held by replica-of-0.2|resuming event .*previously held by replica-of-0.2)`, 'u');
    await lm.waitForLog(taken, 30_000);
    const takenOverAtMs = Date.now();
    expect(takenOverAtMs).toBeGreaterThanOrEqual(renewMs + OLD_LEASE_SECONDS * 1000);
    expect(lm.countLogs(taken)).toBe(1);
    await completedOnce(instance!.instanceId);
  });
});
