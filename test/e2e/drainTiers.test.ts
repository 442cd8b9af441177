import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../harness/cli.js';
import { adminKubeConfig, eventually } from '../harness/infra.js';
import { startKubeFaultProxy } from '../harness/kubeFaultProxy.js';
import type { World } from '../harness/world.js';
import { e2eFixture } from './fixture.js';

/**
 * Draining like Karpenter, and saying early what will go wrong: system-critical pods are evicted only once the rest
 * are gone; a pod replaced under the same name is never touched; the lifecycle action completes only after the
 * drained pods' volumes are detached (or the bound has passed); and the plan is published before the first eviction.
 */
const f = e2eFixture({ graceScale: 0.05 });
const admin = adminKubeConfig(f.info);
const policy = admin.makeApiClient(k8s.PolicyV1Api);
const tls = { certFile: join(f.info.workDir, 'cluster', 'serving.crt'), keyFile: join(f.info.workDir, 'cluster', 'serving.key') };
const stops: Array<() => void> = [];
beforeAll(() => f.start());
afterAll(async () => {
  for (const stop of stops) stop();
  await f.stop();
});

const FAST = ['--polling-interval', '1', '--drain-interval', '1', '--with-deregister=false', '--node-join-timeout', '5'];

async function completion(world: World, instanceId: string) {
  const a = await eventually('the action to be completed', async () => (await f.actions(instanceId)).find((x) => x.result !== null), 90_000, 200);
  return { result: a.result, source: a.resultSource, completes: a.completeCalls, completedAtMs: Date.parse(a.completedAt!) };
}

/** Records, per pod of `namespace`, when it was first seen terminating and when it was deleted (this process's clock). */
async function watchPods(namespace: string): Promise<Map<string, { terminatingAtMs?: number; deletedAtMs?: number }>> {
  const seen = new Map<string, { terminatingAtMs?: number; deletedAtMs?: number }>();
  const controller = await new k8s.Watch(admin).watch(`/api/v1/namespaces/${namespace}/pods`, {}, (type, pod: k8s.V1Pod) => {
    const s = seen.get(pod.metadata!.name!) ?? {};
    seen.set(pod.metadata!.name!, s);
    if (pod.metadata?.deletionTimestamp) s.terminatingAtMs ??= Date.now();
    if (type === 'DELETED') s.deletedAtMs ??= Date.now();
  }, () => undefined);
  stops.push(() => controller.abort());
  return seen;
}

/** When the Node was deleted (this process's clock). */
async function watchNodeDeletion(nodeName: string): Promise<{ deletedAtMs?: number }> {
  const seen: { deletedAtMs?: number } = {};
  const controller = await new k8s.Watch(admin).watch('/api/v1/nodes', { fieldSelector: `metadata.name=${nodeName}` }, (type) => {
    if (type === 'DELETED') seen.deletedAtMs ??= Date.now();
  }, () => undefined);
  stops.push(() => controller.abort());
  return seen;
}

/** When each VolumeAttachment of `nodeName` was deleted (this process's clock). */
async function watchAttachments(nodeName: string): Promise<Map<string, number>> {
  const deleted = new Map<string, number>();
  const controller = await new k8s.Watch(admin).watch('/apis/storage.k8s.io/v1/volumeattachments', {}, (type, va: k8s.V1VolumeAttachment) => {
    if (type === 'DELETED' && va.spec.nodeName === nodeName) deleted.set(va.spec.source.persistentVolumeName ?? va.metadata!.name!, Date.now());
  }, () => undefined);
  stops.push(() => controller.abort());
  return deleted;
}

async function eventsIn(namespace: string, reason: string): Promise<k8s.CoreV1Event[]> {
  return (await f.kubelet.core.listNamespacedEvent({ namespace, fieldSelector: `reason=${reason}` })).items;
}

describe('eviction in tiers', () => {
  it('evicts the system-critical pods only once every other pod is gone, and the Events say which tier waits on what', async () => {
    const world = await f.world({ instances: 1, heartbeatTimeoutSeconds: 30 });
    const [victim] = world.instances;
    const pods = await watchPods(world.namespace);
    // 40 s of grace at this kubelet's scale: each web pod takes 2 s to go once evicted.
    for (const name of ['web-1', 'web-2']) await f.kubelet.createPod(world.namespace, { name, nodeName: victim!.nodeName, ownerKind: 'ReplicaSet', terminationGracePeriodSeconds: 40 });
    await f.kubelet.createPod(world.namespace, { name: 'dns', nodeName: victim!.nodeName, ownerKind: 'ReplicaSet', priorityClassName: 'system-cluster-critical' });
    const lm = await f.serve(world, FAST);
    await world.terminate(victim!.instanceId);

    expect(await completion(world, victim!.instanceId)).toMatchObject({ result: 'CONTINUE', source: 'complete', completes: 1 });
    const webGoneAtMs = Math.max(pods.get('web-1')!.deletedAtMs!, pods.get('web-2')!.deletedAtMs!);
    expect(pods.get('web-1')!.terminatingAtMs! < webGoneAtMs).toBe(true);
    expect(pods.get('dns')!.terminatingAtMs).toBeGreaterThanOrEqual(webGoneAtMs);
    // (Events list by name, not by time: the order is the pods' timings above.)
    const tiers = (await world.nodeEvents(victim!.nodeName)).filter((e) => e.reason === 'EvictingPodTier').map((e) => e.message).sort();
    expect(tiers).toEqual([
      `node ${victim!.nodeName}, critical tier: evicting 1 system-critical pods (${world.namespace}/dns) now that the other pods are gone`,
      `node ${victim!.nodeName}, non-critical tier: evicting 2 non-critical pods first; 1 system-critical pods (${world.namespace}/dns) wait until they are gone`,
    ]);
    expect(await lm.metric('lifecycle_manager_phase_duration_seconds_count', { phase: 'drain_tier_non_critical' })).toBe(1);
    expect(await lm.metric('lifecycle_manager_phase_duration_seconds_count', { phase: 'drain_tier_critical' })).toBe(1);
  });

  it('never touches a pod that replaced an evicted one under the same name on another node', async () => {
    const world = await f.world({ instances: 2, heartbeatTimeoutSeconds: 30 });
    const [victim, survivor] = world.instances;
    const original = await f.kubelet.createPod(world.namespace, { name: 'db-0', nodeName: victim!.nodeName, ownerKind: 'StatefulSet' });
    // The eviction of db-0 is held up on its way to the apiserver; meanwhile its controller replaces it elsewhere.
    const kube = await startKubeFaultProxy({
      kubeconfigPath: f.info.serviceKubeconfigPath, outputKubeconfigPath: join(f.info.workDir, `tiers-${world.id}.kubeconfig`), tls,
      rules: [{ method: 'POST', path: new RegExp(`/namespaces/${world.namespace}/pods/db-0/eviction`, 'u'), fault: 'latency', latencyMs: 3_000, times: 1 }],
    });
    stops.push(() => void kube.close());
    await f.serve(world, FAST, { kubeconfigPath: kube.kubeconfigPath });
    await world.terminate(victim!.instanceId);
    await eventually('the eviction of db-0 to be on its way', async () => kube.requests.some((r) => r.method === 'POST' && r.url.includes('/pods/db-0/eviction')), 60_000, 50);
    await f.kubelet.core.deleteNamespacedPod({ name: 'db-0', namespace: world.namespace, body: { gracePeriodSeconds: 0 } });
    await eventually('db-0 to be gone', async () => (await world.podsOn(victim!.nodeName)).length === 0, 10_000, 50);
    const replacement = await f.kubelet.createPod(world.namespace, { name: 'db-0', nodeName: survivor!.nodeName, ownerKind: 'StatefulSet' });

    expect(await completion(world, victim!.instanceId)).toMatchObject({ result: 'CONTINUE', source: 'complete', completes: 1 });
    const eviction = kube.requests.find((r) => r.url.includes('/pods/db-0/eviction'))!;
    expect(eviction.status).toBe(409); // the UID precondition: it was meant for the pod that is gone
    const now = await f.kubelet.core.readNamespacedPod({ name: 'db-0', namespace: world.namespace });
    expect(now.metadata?.uid).toBe(replacement.metadata?.uid);
    expect(now.metadata?.uid).not.toBe(original.metadata?.uid);
    expect(now.metadata?.deletionTimestamp).toBeUndefined();
  });
});

describe('volume detachment before completion', () => {
  it('completes only after the drained pod\'s VolumeAttachment is gone, ignoring a DaemonSet pod\'s', async () => {
    const world = await f.world({ instances: 1, heartbeatTimeoutSeconds: 30 });
    const [victim] = world.instances;
    const dataVolume = await f.kubelet.volumes.createVolume(world.namespace, 'data-db-0');
    const cacheVolume = await f.kubelet.volumes.createVolume(world.namespace, 'node-cache');
    await f.kubelet.createPod(world.namespace, { name: 'db-0', nodeName: victim!.nodeName, ownerKind: 'StatefulSet', claims: ['data-db-0'] });
    await f.kubelet.createPod(world.namespace, { name: 'csi-cache', nodeName: victim!.nodeName, ownerKind: 'DaemonSet', claims: ['node-cache'] });
    await eventually('both volumes to be attached', async () => (await f.kubelet.volumes.attachmentsOn(victim!.nodeName)).length === 2, 20_000, 100);
    const detached = await watchAttachments(victim!.nodeName);
    const nodeGone = await watchNodeDeletion(victim!.nodeName);
    f.kubelet.volumes.detachDelayMs = 2_500;
    await f.serve(world, [...FAST, '--volume-detach-timeout', '60']);
    await world.terminate(victim!.instanceId);

    const done = await completion(world, victim!.instanceId);
    expect(done).toMatchObject({ result: 'CONTINUE', source: 'complete', completes: 1 });
    expect(detached.get(dataVolume)).toBeDefined();
    expect(done.completedAtMs).toBeGreaterThanOrEqual(detached.get(dataVolume)! - 5); // moto's clock rounds to the millisecond
    // The DaemonSet pod stays, and so does its volume: it was not waited for.
    expect((await f.kubelet.volumes.attachmentsOn(victim!.nodeName)).map((va) => va.spec.source.persistentVolumeName)).toEqual([cacheVolume]);
    const detachedEvent = await eventually('the detachment to be reported', async () => (await world.nodeEvents(victim!.nodeName)).find((e) => e.reason === 'VolumesDetached'), 10_000, 100);
    expect(detachedEvent.message).toMatch(new RegExp(`^the 1 volumes of the pods drained from node ${victim!.nodeName} were detached after \\d+\\.\\ds$`, 'u'));
    // The Node goes after the volume, never before.
    await eventually('the Node deletion to be seen', async () => nodeGone.deletedAtMs !== undefined, 10_000, 50);
    expect(nodeGone.deletedAtMs).toBeGreaterThanOrEqual(detached.get(dataVolume)!);
    f.kubelet.volumes.detachDelayMs = 300;
  });

  it('completes CONTINUE once --volume-detach-timeout has passed when a volume never detaches, and reports it (Event, metric)', async () => {
    const world = await f.world({ instances: 1, heartbeatTimeoutSeconds: 30 });
    const [victim] = world.instances;
    const volume = await f.kubelet.volumes.createVolume(world.namespace, 'data-stuck-0');
    await f.kubelet.createPod(world.namespace, { name: 'stuck-0', nodeName: victim!.nodeName, ownerKind: 'StatefulSet', claims: ['data-stuck-0'] });
    await eventually('the volume to be attached', async () => (await f.kubelet.volumes.attachmentsOn(victim!.nodeName)).length === 1, 20_000, 100);
    f.kubelet.volumes.hold(volume);
    const pods = await watchPods(world.namespace);
    const lm = await f.serve(world, [...FAST, '--volume-detach-timeout', '3']);
    await world.terminate(victim!.instanceId);

    const done = await completion(world, victim!.instanceId);
    expect(done).toMatchObject({ result: 'CONTINUE', source: 'complete', completes: 1 });
    expect(done.completedAtMs - pods.get('stuck-0')!.deletedAtMs!).toBeGreaterThanOrEqual(3_000);
    const failed = (await world.nodeEvents(victim!.nodeName)).find((e) => e.reason === 'LifecycleStepFailed');
    expect(failed?.message).toMatch(new RegExp(`^step await_volumes failed \\(timeout\\): 1 volumes still attached to node ${victim!.nodeName} after 3s: csi-[0-9a-f]+ \\(${volume}\\); pods that need them elsewhere may wait for a forced detach; continuing with the next step$`, 'u'));
    expect(await lm.metric('lifecycle_manager_volume_detachment_waits_total', { outcome: 'timed-out' })).toBe(1);
    expect(await lm.metric('lifecycle_manager_step_failures_total', { step: 'await_volumes', class: 'timeout', policy: 'degrade-and-continue' })).toBe(1);
    f.kubelet.volumes.release(volume);
  });
});

describe('the drain plan', () => {
  it('is published before the first eviction: a Warning on the Node and on each blocking pod\'s owner; doctor --node prints it', async () => {
    const world = await f.world({ instances: 2, heartbeatTimeoutSeconds: 30 });
    const [victim, calm] = world.instances;
    await f.kubelet.createPod(world.namespace, { name: 'guarded', nodeName: victim!.nodeName, labels: { app: 'guarded' }, ownerKind: 'ReplicaSet' });
    await f.kubelet.createPod(world.namespace, { name: 'bare', nodeName: victim!.nodeName });
    await f.kubelet.createPod(world.namespace, { name: 'scratch', nodeName: victim!.nodeName, ownerKind: 'ReplicaSet', emptyDir: true });
    await f.kubelet.createPod(world.namespace, { name: 'calm', nodeName: calm!.nodeName, ownerKind: 'ReplicaSet' });
    await f.kubelet.createPdb(world.namespace, { name: 'guarded', matchLabels: { app: 'guarded' }, minAvailable: 1 });
    await eventually('the budget to allow no disruption', async () => (await policy.readNamespacedPodDisruptionBudget({ name: 'guarded', namespace: world.namespace })).status?.disruptionsAllowed === 0, 10_000, 100);

    // doctor --node, as the service's own identity: the same plan, now, exit 1; a node without problems passes.
    const doctor = (node: string) => runCli(f.info.repoRoot, ['doctor', '--node', node, '--local-mode', f.info.serviceKubeconfigPath], {});
    const planned = await doctor(victim!.nodeName);
    expect(planned.code).toBe(1);
    expect(planned.stdout).toContain(`✗  pod ${world.namespace}/guarded: PodDisruptionBudget ${world.namespace}/guarded allows 0 disruptions now [pdb-allows-no-disruption]`);
    expect(planned.stdout).toContain(`✗  pod ${world.namespace}/bare: no controller owns it: once evicted it is not recreated anywhere [no-controller]`);
    expect(planned.stdout).toContain(`✗  pod ${world.namespace}/scratch: uses emptyDir local storage: its data is lost with the node [local-storage]`);
    expect(planned.errorLines).toEqual([`lifecycle-manager: doctor: node ${victim!.nodeName}: 3 drain plan problems; see above`]);
    // --output json: the same plan as one JSON object on stdout (nothing else there), for scripts.
    const json = await runCli(f.info.repoRoot, ['doctor', '--node', victim!.nodeName, '--local-mode', f.info.serviceKubeconfigPath, '--output', 'json'], {});
    expect(json.code).toBe(1);
    const report = JSON.parse(json.stdout) as { ok: boolean; node: string; tiers: { tier: string; pods: string[] }[]; problems: { kind: string; pod: string }[] };
    expect([report.ok, report.node]).toEqual([false, victim!.nodeName]);
    expect(report.tiers.map((t) => [t.tier, [...t.pods].sort()])).toEqual([['non-critical', ['bare', 'guarded', 'scratch'].map((n) => `${world.namespace}/${n}`)]]);
    expect(report.problems.map((p) => `${p.pod} ${p.kind}`).sort()).toEqual([
      `${world.namespace}/bare no-controller`, `${world.namespace}/guarded pdb-allows-no-disruption`, `${world.namespace}/scratch local-storage`,
    ]);
    expect(json.errorLines).toEqual([`lifecycle-manager: doctor: node ${victim!.nodeName}: 3 drain plan problems`]);
    const clean = await doctor(calm!.nodeName);
    expect(clean.code).toBe(0);
    expect(clean.stdout).toContain('✓  nothing known blocks the drain');

    const kube = await startKubeFaultProxy({
      kubeconfigPath: f.info.serviceKubeconfigPath, outputKubeconfigPath: join(f.info.workDir, `plan-${world.id}.kubeconfig`), tls,
      captureBody: (method, url) => method === 'POST' && url.includes('/events'),
    });
    stops.push(() => void kube.close());
    const lm = await f.serve(world, FAST, { kubeconfigPath: kube.kubeconfigPath });
    await world.terminate(victim!.instanceId);
    const warning = await eventually('the plan to be published', async () => (await world.nodeEvents(victim!.nodeName)).find((e) => e.reason === 'DrainPlanWarning'), 60_000, 100);
    // The budget's owner lets go once the on-call engineer has seen the warning.
    await policy.deleteNamespacedPodDisruptionBudget({ name: 'guarded', namespace: world.namespace });
    expect(await completion(world, victim!.instanceId)).toMatchObject({ result: 'CONTINUE', source: 'complete', completes: 1 });

    expect(warning.type).toBe('Warning');
    expect(warning.message).toBe(`drain of node ${victim!.nodeName} (its instance is terminating): 3 pods to evict (3 non-critical); 3 problems: `
      + `pod ${world.namespace}/bare: no controller owns it: once evicted it is not recreated anywhere; `
      + `pod ${world.namespace}/guarded: PodDisruptionBudget ${world.namespace}/guarded allows 0 disruptions now; `
      + `pod ${world.namespace}/scratch: uses emptyDir local storage: its data is lost with the node`);
    const planAtMs = kube.requests.find((r) => r.body?.includes('"DrainPlanWarning"') && r.url.includes('/namespaces/default/'))!.respondedAtMs!;
    const firstEvictionAtMs = kube.requests.find((r) => r.method === 'POST' && r.url.endsWith('/eviction'))!.startedAtMs;
    expect(planAtMs).toBeLessThan(firstEvictionAtMs);
    const owners = (await eventsIn(world.namespace, 'DrainPlanWarning')).map((e) => `${e.involvedObject.kind}/${e.involvedObject.name}: ${e.message}`).sort();
    expect(owners).toEqual([
      `Pod/bare: node ${victim!.nodeName} is being drained for an instance termination; pod ${world.namespace}/bare: no controller owns it: once evicted it is not recreated anywhere`,
      `ReplicaSet/guarded-owner: node ${victim!.nodeName} is being drained for an instance termination; pod ${world.namespace}/guarded: PodDisruptionBudget ${world.namespace}/guarded allows 0 disruptions now`,
      `ReplicaSet/scratch-owner: node ${victim!.nodeName} is being drained for an instance termination; pod ${world.namespace}/scratch: uses emptyDir local storage: its data is lost with the node`,
    ]);
    expect(await lm.metric('lifecycle_manager_drain_plan_problems_total', { kind: 'pdb-allows-no-disruption' })).toBe(1);
    expect(await lm.metric('lifecycle_manager_drain_plan_problems_total')).toBe(3);
  });

  it('sees a PodDisruptionBudget created after the service started (from its watched index): the next event\'s plan warns about it', async () => {
    const world = await f.world({ instances: 1, heartbeatTimeoutSeconds: 30 });
    const [victim] = world.instances;
    await f.kubelet.createPod(world.namespace, { name: 'late', nodeName: victim!.nodeName, labels: { app: 'late' }, ownerKind: 'ReplicaSet' });
    // Started (its indexes filled: "node cache synced") before the budget exists.
    const lm = await f.serve(world, FAST);
    await f.kubelet.createPdb(world.namespace, { name: 'late', matchLabels: { app: 'late' }, minAvailable: 1 });
    await eventually('the budget to allow no disruption', async () => (await policy.readNamespacedPodDisruptionBudget({ name: 'late', namespace: world.namespace })).status?.disruptionsAllowed === 0, 10_000, 100);
    await world.terminate(victim!.instanceId);
    const warning = await eventually('the plan to be published', async () => (await world.nodeEvents(victim!.nodeName)).find((e) => e.reason === 'DrainPlanWarning'), 60_000, 100);
    await policy.deleteNamespacedPodDisruptionBudget({ name: 'late', namespace: world.namespace });
    expect(await completion(world, victim!.instanceId)).toMatchObject({ result: 'CONTINUE', source: 'complete', completes: 1 });
    expect(warning.message).toBe(`drain of node ${victim!.nodeName} (its instance is terminating): 1 pods to evict (1 non-critical); 1 problem: `
      + `pod ${world.namespace}/late: PodDisruptionBudget ${world.namespace}/late allows 0 disruptions now`);
    expect(await lm.metric('lifecycle_manager_drain_plan_problems_total', { kind: 'pdb-allows-no-disruption' })).toBe(1);
  });
});

