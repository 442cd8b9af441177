import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../harness/infra.js';
import { type KubeFaultProxy, startKubeFaultProxy } from '../harness/kubeFaultProxy.js';
import { e2eFixture } from './fixture.js';

/**
 * "No Node" is proven, not assumed: before an action concludes that its instance has no Node (and completes without
 * draining), it asks the apiserver itself; a node watch that stalls is restarted, logged, and fails /readyz.
 */
const f = e2eFixture({ graceScale: 0.05 });
const proxies: KubeFaultProxy[] = [];
beforeAll(() => f.start());
afterAll(async () => {
  await f.stop();
  await Promise.allSettled(proxies.map((p) => p.close()));
});

const FAST = ['--polling-interval', '1', '--drain-interval', '1', '--with-deregister=false'];

async function kubeProxy(name: string): Promise<KubeFaultProxy> {
  const p = await startKubeFaultProxy({
    kubeconfigPath: f.info.serviceKubeconfigPath, outputKubeconfigPath: join(f.info.workDir, `${name}.kubeconfig`),
    tls: { certFile: join(f.info.workDir, 'cluster', 'serving.crt'), keyFile: join(f.info.workDir, 'cluster', 'serving.key') },
  });
  proxies.push(p);
  return p;
}

async function readyz(port: number): Promise<{ status: number; body: string }> {
  const res = await fetch(`http://127.0.0.1:${port}/readyz`);
  return { status: res.status, body: await res.text() };
}

describe('no Node is proven, not assumed', () => {
  it('drains a Node the stalled watch never reported, found by a fresh read from the apiserver', async () => {
    const world = await f.world({ instances: 1, heartbeatTimeoutSeconds: 30 });
    const [late] = world.instances;
    await f.kubelet.core.deleteNode({ name: late!.nodeName });
    await eventually('the node to be gone', async () => !(await world.nodeExists(late!.nodeName)), 10_000);
    const kube = await kubeProxy(`stalled-${world.id}`);
    // Every watch request hangs: the service's node index never hears of a Node again.
    kube.setRules([{ method: 'GET', path: /^\/api\/v1\/nodes\?/u, watch: true, fault: 'hang' }]);
    const lm = await f.serve(world, [...FAST, '--node-join-timeout', '3'], { kubeconfigPath: kube.kubeconfigPath });
    await f.kubelet.addNode({ name: late!.nodeName, instanceId: late!.instanceId, availabilityZone: late!.availabilityZone, privateIp: late!.privateIp });
    await f.kubelet.createPod(world.namespace, { name: 'unseen', nodeName: late!.nodeName, ownerKind: 'ReplicaSet' });
    await world.terminate(late!.instanceId);
    const action = await eventually('the action to be completed', async () => (await f.actions(late!.instanceId)).find((a) => a.result !== null), 60_000, 300);
    expect({ result: action.result, completes: action.completeCalls }).toEqual({ result: 'CONTINUE', completes: 1 });
    // Without the fresh read it would have concluded "never registered" and released the instance with its pod on it.
    expect(lm.countLogs(/was found by a fresh read from the apiserver although the node watch had not reported it; draining it/u)).toBe(1);
    expect(lm.countLogs(/never registered as a Node/u)).toBe(0);
    expect(await world.podsOn(late!.nodeName)).toEqual([]);
    expect(await world.nodeExists(late!.nodeName)).toBe(false);
  });

  it('completes without draining only after the fresh read confirms there is no Node', async () => {
    const world = await f.world({ instances: 1, heartbeatTimeoutSeconds: 30 });
    const [ghost] = world.instances;
    await f.kubelet.core.deleteNode({ name: ghost!.nodeName });
    const kube = await kubeProxy(`ghost-${world.id}`);
    const lm = await f.serve(world, [...FAST, '--node-join-timeout', '2'], { kubeconfigPath: kube.kubeconfigPath });
    const listsBefore = kube.requests.filter((r) => r.method === 'GET' && /^\/api\/v1\/nodes\?/u.test(r.url) && !r.url.includes('watch=true')).length;
    await world.terminate(ghost!.instanceId);
    const action = await eventually('the action to be completed', async () => (await f.actions(ghost!.instanceId)).find((a) => a.result !== null), 60_000, 300);
    expect({ result: action.result, completes: action.completeCalls }).toEqual({ result: 'CONTINUE', completes: 1 });
    expect(lm.countLogs(/never registered as a Node within 2s; nothing to drain \(a fresh read from the apiserver confirms it has no Node\)/u)).toBe(1);
    // The proof is a LIST that asks the apiserver itself (no resourceVersion: a consistent read, not the watch cache).
    const proofs = kube.requests.filter((r) => r.method === 'GET' && /^\/api\/v1\/nodes\?/u.test(r.url) && !r.url.includes('watch=true')).slice(listsBefore);
    expect(proofs.length).toBeGreaterThanOrEqual(1);
    expect(proofs.every((r) => !/resourceVersion=/u.test(r.url))).toBe(true);
  });

  it('fails /readyz and logs while the node watch is stalled, and recovers when it answers again', async () => {
    const world = await f.world({ instances: 1, heartbeatTimeoutSeconds: 30 });
    const kube = await kubeProxy(`watch-${world.id}`);
    const lm = await f.serve(world, [...FAST, '--node-watch-timeout', '10'], { kubeconfigPath: kube.kubeconfigPath });
    // Ready once the first receive from the queue has returned (moments after the node cache synced).
    await eventually('/readyz to pass', async () => (await readyz(lm.metricsPort)).status === 200, 10_000, 100);
    kube.setRules([{ method: 'GET', path: /^\/api\/v1\/nodes\?/u, watch: true, fault: 'hang' }]);
    // The current watch ends by the apiserver's timeout (10 s); the next one hangs; 1.5 × 10 s of silence is a stall.
    await lm.waitForLog(/node watch stalled: no event, bookmark or reconnect for \d+s .*restarting it/u, 60_000);
    const stalled = await eventually('/readyz to fail', async () => { const r = await readyz(lm.metricsPort); return r.status === 503 ? r : undefined; }, 10_000);
    expect(stalled.body).toMatch(/node watch stalled for \d+s/u);
    // Liveness is about the loops running, and they do (the watch is being restarted).
    expect((await fetch(`http://127.0.0.1:${lm.metricsPort}/healthz`)).status).toBe(200);
    kube.setRules([]);
    await lm.waitForLog(/node watch is receiving again/u, 60_000);
    await eventually('/readyz to pass again', async () => (await readyz(lm.metricsPort)).status === 200, 10_000);
  });
});
