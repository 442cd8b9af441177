import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKubeClients } from '../../src/kube/apiClients.js';
import { toPodInfo } from '../../src/kube/kubeCluster.js';
import { type NodePodWatch, watchPodsOfNode } from '../../src/kube/podsOnNodes.js';
import { silentLogger } from '../../src/observability/logger.js';
import { Metrics } from '../../src/observability/metrics.js';
import { adminKubeConfig, eventually } from '../harness/infra.js';
import { startKubeFaultProxy } from '../harness/kubeFaultProxy.js';
import { e2eFixture } from './fixture.js';

/**
 * A drain's pod watch starts where the node's last LIST left off (its resourceVersion), with no LIST of its own:
 * against the real apiserver, what changed on the node in between is replayed by the watch. (A resourceVersion the
 * apiserver no longer has is answered 410 Gone, and the watch relists as it always does.)
 */
const f = e2eFixture();
const kc = adminKubeConfig(f.info);
const watches: NodePodWatch[] = [];
const made: Array<{ nodeName: string; namespace: string }> = [];
beforeAll(() => f.start());
afterAll(async () => {
  await Promise.allSettled(watches.map((w) => w.stop()));
  await Promise.allSettled(made.flatMap(({ nodeName, namespace }) => [
    f.kubelet.core.deleteNode({ name: nodeName }), f.kubelet.core.deleteNamespace({ name: namespace })]));
  await f.stop();
});

async function nodeWithPods(count: number): Promise<{ nodeName: string; namespace: string }> {
  const id = randomBytes(3).toString('hex');
  const nodeName = `ip-10-9-${parseInt(id.slice(0, 2), 16)}-${parseInt(id.slice(2, 4), 16)}.ec2.internal`;
  const namespace = `pw-${id}`;
  await f.kubelet.core.createNamespace({ body: { metadata: { name: namespace } } });
  await f.kubelet.addNode({ name: nodeName, instanceId: `i-${id}0000000000`, availabilityZone: 'us-east-1a', privateIp: '10.9.0.1' });
  made.push({ nodeName, namespace });
  for (let p = 0; p < count; p++) await f.kubelet.createPod(namespace, { name: `p${p}`, nodeName, ownerKind: 'ReplicaSet' });
  return { nodeName, namespace };
}

function podWatch(nodeName: string, metrics: Metrics, kubeConfig = kc): NodePodWatch {
  const watch = watchPodsOfNode(createKubeClients(kubeConfig, metrics), nodeName, toPodInfo, silentLogger, metrics, { watchTimeoutSeconds: 30 });
  watches.push(watch);
  return watch;
}

async function calls(metrics: Metrics): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const v of (await metrics.kubeCalls.get()).values) if (v.labels['resource'] === 'pods') out[String(v.labels['verb'])] = v.value;
  return out;
}

const names = (w: NodePodWatch): string[] => w.pods().map((p) => p.name).sort();

describe('a node\'s pod watch started from an earlier LIST', () => {
  it('replays what changed since that LIST (a pod deleted, one bound) without listing again', async () => {
    const { nodeName, namespace } = await nodeWithPods(2);
    const list = await f.kubelet.core.listPodForAllNamespaces({ fieldSelector: `spec.nodeName=${nodeName}` });
    expect(list.items.map((p) => p.metadata!.name).sort()).toEqual(['p0', 'p1']);
    await f.kubelet.core.deleteNamespacedPod({ namespace, name: 'p0', gracePeriodSeconds: 0 });
    await f.kubelet.createPod(namespace, { name: 'p2', nodeName, ownerKind: 'ReplicaSet' });

    const metrics = new Metrics();
    const watch = podWatch(nodeName, metrics);
    await watch.start({ pods: list.items.map(toPodInfo), resourceVersion: list.metadata!.resourceVersion! });
    expect(watch.isCurrent()).toBe(true);
    await eventually('the watch to replay the changes', async () => (names(watch).join() === 'p1,p2' ? true : undefined), 10_000, 50);
    expect(await calls(metrics)).toEqual({ watch: 1 });
  });

  it('gives up within 10 s when the apiserver never answers the watch, so that the caller lists instead of waiting', async () => {
    const { nodeName } = await nodeWithPods(1);
    const list = await f.kubelet.core.listPodForAllNamespaces({ fieldSelector: `spec.nodeName=${nodeName}` });
    const proxy = await startKubeFaultProxy({
      kubeconfigPath: f.info.serviceKubeconfigPath, outputKubeconfigPath: join(f.info.workDir, `pod-watch-hang-${nodeName}.kubeconfig`),
      tls: { certFile: join(f.info.workDir, 'cluster', 'serving.crt'), keyFile: join(f.info.workDir, 'cluster', 'serving.key') },
      rules: [{ method: 'GET', path: /^\/api\/v1\/pods\?/u, watch: true, fault: 'hang' }],
    });
    try {
      const through = new k8s.KubeConfig();
      through.loadFromFile(proxy.kubeconfigPath);
      const metrics = new Metrics();
      const watch = podWatch(nodeName, metrics, through);
      const startedAtMs = Date.now();
      await expect(watch.start({ pods: list.items.map(toPodInfo), resourceVersion: list.metadata!.resourceVersion! }))
        .rejects.toThrow(/watch did not connect within 10s/u);
      expect(Date.now() - startedAtMs).toBeLessThan(20_000);
      expect(watch.isCurrent()).toBe(false);
    } finally {
      await proxy.close();
    }
  });
});
