import * as k8s from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminKubeConfig, eventually } from '../harness/infra.js';
import type { World } from '../harness/world.js';
import { e2eFixture } from './fixture.js';

/**
 * One pod's refusal is that pod's state, not the attempt's: an admission policy denying one pod's eviction, a
 * namespace being terminated, a PodDisruptionBudget the eviction subresource rejects (403) — the other pods keep
 * draining, the refused pod is retried and named, and the attempt runs its full --drain-timeout before escalating.
 */
const f = e2eFixture({ graceScale: 0.05 });
const admin = adminKubeConfig(f.info);
const admission = admin.makeApiClient(k8s.AdmissionregistrationV1Api);
const policy = admin.makeApiClient(k8s.PolicyV1Api);
const policies: string[] = [];
beforeAll(() => f.start());
afterAll(async () => {
  for (const name of policies) {
    await admission.deleteValidatingAdmissionPolicyBinding({ name }).catch(() => undefined);
    await admission.deleteValidatingAdmissionPolicy({ name }).catch(() => undefined);
  }
  await f.stop();
});

const FAST = ['--polling-interval', '1', '--drain-interval', '1', '--with-deregister=false', '--node-join-timeout', '5'];

async function completion(world: World, instanceId: string): Promise<{ result: string | null; source: string | null; completes: number }> {
  const a = await eventually('the action to be completed', async () => (await f.actions(instanceId)).find((x) => x.result !== null), 90_000, 300);
  return { result: a.result, source: a.resultSource, completes: a.completeCalls };
}

/** A ValidatingAdmissionPolicy (CEL, no webhook server needed) that denies evicting the named pods of `namespace`. */
async function denyEvictionOf(namespace: string, podNames: readonly string[]): Promise<string> {
  const name = `deny-eviction-${namespace}`;
  policies.push(name);
  await admission.createValidatingAdmissionPolicy({ body: {
    metadata: { name },
    spec: {
      failurePolicy: 'Fail',
      matchConstraints: { resourceRules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['pods/eviction'] }] },
      validations: [{ expression: `!(object.metadata.name in ${JSON.stringify(podNames)})`, message: 'this pod may not be evicted now (maintenance freeze)' }],
    },
  } });
  await admission.createValidatingAdmissionPolicyBinding({ body: {
    metadata: { name },
    spec: { policyName: name, validationActions: ['Deny'], matchResources: { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': namespace } } } },
  } });
  return name;
}

describe('one pod\'s refusal is that pod\'s state, not the attempt\'s', () => {
  it('keeps draining the other pods while an admission policy refuses one, retries it, and drains it once allowed', async () => {
    const world = await f.world({ instances: 1, heartbeatTimeoutSeconds: 30 });
    const [victim] = world.instances;
    for (const name of ['guarded', 'free-1', 'free-2']) await f.kubelet.createPod(world.namespace, { name, nodeName: victim!.nodeName, ownerKind: 'ReplicaSet' });
    const binding = await denyEvictionOf(world.namespace, ['guarded']);
    // The policy takes effect once the apiserver has loaded it: wait until a dry-run eviction is refused.
    await eventually('the policy to be in force', async () => f.kubelet.core.createNamespacedPodEviction({ name: 'guarded', namespace: world.namespace, dryRun: 'All', body: { metadata: { name: 'guarded', namespace: world.namespace } } })
      .then(() => false, (e: { code?: number }) => e.code === 403 || e.code === 422 || e.code === 400), 20_000, 200);
    const lm = await f.serve(world, [...FAST, '--drain-timeout', '60']);
    await world.terminate(victim!.instanceId);

    // The others go while the guarded pod is refused, again and again, within the same attempt.
    await eventually('the other pods to be evicted', async () => (await world.podsOn(victim!.nodeName)).map((p) => p.metadata!.name).join() === 'guarded', 60_000);
    await eventually('the refusal to be retried', async () => (await lm.metric('lifecycle_manager_pod_evictions_total', { outcome: 'refused' })) >= 2, 30_000);
    const refused = (await world.nodeEvents(victim!.nodeName)).filter((e) => e.reason === 'PodEvictionRefused');
    expect(refused.map((e) => e.message)).toEqual([expect.stringMatching(new RegExp(`^eviction of pod ${world.namespace}/guarded was refused: HTTP (403|422|400): .*this pod may not be evicted now`, 'u'))]);
    expect(lm.countLogs(/failed to drain node/u)).toBe(0); // the attempt goes on

    await admission.deleteValidatingAdmissionPolicyBinding({ name: binding });
    expect(await completion(world, victim!.instanceId)).toEqual({ result: 'CONTINUE', source: 'complete', completes: 1 });
    expect(await world.podsOn(victim!.nodeName)).toEqual([]);
    const reasons = (await world.nodeEvents(victim!.nodeName)).map((e) => e.reason);
    expect(reasons).not.toContain('GracefulPodDeletionAfterDrainFailed'); // evicted, never force-deleted
    expect(reasons).toContain('NodeDrainSucceeded');
  });

  it('waits for the pods of a namespace being terminated, as kubectl drain does', async () => {
    const world = await f.world({ instances: 1, heartbeatTimeoutSeconds: 30, podsPerNode: 1 });
    const [victim] = world.instances;
    const doomed = `doomed-${world.id}`;
    await f.kubelet.core.createNamespace({ body: { metadata: { name: doomed } } });
    await f.kubelet.createPod(doomed, { name: 'leftover', nodeName: victim!.nodeName, ownerKind: 'ReplicaSet' });
    // No namespace controller runs here: the namespace stays Terminating and refuses new content (evictions too).
    await f.kubelet.core.deleteNamespace({ name: doomed });
    const lm = await f.serve(world, [...FAST, '--drain-timeout', '60']);
    await world.terminate(victim!.instanceId);
    await eventually('the terminating namespace to refuse the eviction', async () =>
      (await world.nodeEvents(victim!.nodeName)).find((e) => e.reason === 'PodEvictionRefused' && e.message!.includes(`${doomed}/leftover`) && e.message!.includes('being terminated')), 60_000);
    // The other pod is evicted meanwhile.
    await eventually('the other pod to be evicted', async () => (await world.podsOn(victim!.nodeName)).map((p) => p.metadata!.name).join() === 'leftover', 30_000);
    // The namespace controller's part: it deletes what is left in the namespace; the drain waits for it.
    await f.kubelet.core.deleteNamespacedPod({ name: 'leftover', namespace: doomed });
    expect(await completion(world, victim!.instanceId)).toEqual({ result: 'CONTINUE', source: 'complete', completes: 1 });
    expect(lm.countLogs(/failed to drain node/u)).toBe(0);
  });

  it('runs the whole --drain-timeout when the eviction API rejects a PodDisruptionBudget (403), then escalates', async () => {
    const world = await f.world({ instances: 1, heartbeatTimeoutSeconds: 30 });
    const [victim] = world.instances;
    await f.kubelet.createPod(world.namespace, { name: 'covered', nodeName: victim!.nodeName, labels: { app: 'covered' }, ownerKind: 'StatefulSet', terminationGracePeriodSeconds: 10 });
    await f.kubelet.createPod(world.namespace, { name: 'other', nodeName: victim!.nodeName, labels: { app: 'other' }, ownerKind: 'ReplicaSet' });
    // A budget whose status a broken disruption controller left with more than 2000 unconfirmed disruptions: the
    // eviction API refuses every eviction it covers with 403 ("DisruptedPods map too big").
    const pdb = await policy.createNamespacedPodDisruptionBudget({ namespace: world.namespace, body: { metadata: { name: 'broken' }, spec: { selector: { matchLabels: { app: 'covered' } }, minAvailable: 1 } } });
    const now = new Date();
    await policy.replaceNamespacedPodDisruptionBudgetStatus({ name: 'broken', namespace: world.namespace, body: { ...pdb, status: {
      observedGeneration: pdb.metadata?.generation ?? 1, currentHealthy: 2, desiredHealthy: 1, expectedPods: 2, disruptionsAllowed: 1,
      disruptedPods: Object.fromEntries(Array.from({ length: 2001 }, (_, i) => [`gone-${i}`, now])),
    } } });
    const lm = await f.serve(world, [...FAST, '--drain-timeout', '6', '--drain-retries', '1', '--max-termination-grace-period', '1']);
    await world.terminate(victim!.instanceId);
    expect(await completion(world, victim!.instanceId)).toEqual({ result: 'CONTINUE', source: 'complete', completes: 1 });
    const events = await world.nodeEvents(victim!.nodeName);
    expect(events.find((e) => e.reason === 'PodEvictionRefused')?.message).toMatch(new RegExp(`${world.namespace}/covered was refused: HTTP 403: .*DisruptedPods map too big`, 'u'));
    // The attempt ended on its timeout, naming the refused pod — not on the first refusal.
    expect(events.find((e) => e.reason === 'NodeDrainFailed')?.message).toMatch(new RegExp(`global timeout reached: 6s; 1 pods still on the node: ${world.namespace}/covered \\(eviction refused: HTTP 403`, 'u'));
    expect(events.map((e) => e.reason)).toContain('GracefulPodDeletionAfterDrainFailed');
    expect(await world.podsOn(victim!.nodeName)).toEqual([]);
    expect(lm.countLogs(new RegExp(`evicting pod ${world.namespace}/other`, 'u'))).toBe(1);
  });
});
