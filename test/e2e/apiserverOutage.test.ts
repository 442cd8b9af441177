import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testAwsClients } from '../harness/awsClients.js';
import { type TestCluster, startTestCluster } from '../harness/cluster.js';
import { SERVICE_NAMESPACE, eventually } from '../harness/infra.js';
import { FakeKubelet } from '../harness/kubelet.js';
import { type LifecycleManagerProcess, startLifecycleManager } from '../harness/lifecycleManager.js';
import { motoAwsEnv } from '../harness/moto.js';
import { SERVICE_USER, bindClusterRole, bindRole, kubeconfigFor, shippedClusterRoleRules, shippedRoleRules } from '../harness/rbac.js';
import { buildWorld } from '../harness/world.js';
import { inject } from 'vitest';

/**
 * The apiserver goes away in the middle of a drain and comes back (upstream #189: an outage made every drain fail
 * at once and ABANDON). This file runs its own apiserver so it can stop and restart it.
 */
const info = inject('harness');
let cluster: TestCluster;
let kubelet: FakeKubelet;
let service: LifecycleManagerProcess | undefined;

beforeAll(async () => {
  const { ensureTestCluster } = (await import(join(info.repoRoot, 'scripts', 'testinfra.mjs'))) as { ensureTestCluster(): string };
  cluster = await startTestCluster(ensureTestCluster(), { logFile: join(info.workDir, 'apiserver-outage.log') });
  const admin = new k8s.KubeConfig();
  admin.loadFromFile(cluster.kubeconfigPath);
  await bindClusterRole(admin, 'lifecycle-manager', shippedClusterRoleRules(info.repoRoot), SERVICE_USER);
  await bindRole(admin, SERVICE_NAMESPACE, 'lifecycle-manager', shippedRoleRules(info.repoRoot), SERVICE_USER);
  kubelet = new FakeKubelet(admin, { graceScale: 0.02 });
  await kubelet.start();
});

afterAll(async () => {
  await service?.stop();
  kubelet?.stop();
  await cluster?.stop();
});

describe('an apiserver outage mid-drain', () => {
  it('waits the outage out within the deadline, keeps heartbeating, then finishes the drain and completes CONTINUE', async () => {
    const aws = testAwsClients(info.motoEndpoint);
    const world = await buildWorld(aws, kubelet, { instances: 1, heartbeatTimeoutSeconds: 6 });
    const [victim] = world.instances;
    await kubelet.createPod(world.namespace, { name: 'busy', nodeName: victim!.nodeName, ownerKind: 'ReplicaSet' });
    kubelet.hold(world.namespace, 'busy');
    const kubeconfigPath = join(cluster.dir, 'service.kubeconfig');
    writeFileSync(kubeconfigPath, kubeconfigFor(cluster.kubeconfigPath, 'lifecycle-manager'));
    service = await startLifecycleManager({
      repoRoot: info.repoRoot, kubeconfigPath, queueName: world.queueName, awsEnv: motoAwsEnv(info.motoEndpoint),
      flags: ['--polling-interval', '1', '--with-deregister=false', '--drain-timeout', '120', '--lease-duration', '5'],
      logFile: join(info.workDir, `lifecycle-manager-${world.queueName}-outage.log`),
    });
    await world.terminate(victim!.instanceId);
    await service.waitForLog(/evicting pod .*\/busy/u, 30_000);

    const heartbeatsBefore = (await actionOf(victim!.instanceId)).heartbeats;
    await cluster.stop();
    // While the apiserver is gone the service keeps the hook alive (heartbeats go to AWS, not Kubernetes).
    await eventually('heartbeats during the outage', async () => (await actionOf(victim!.instanceId)).heartbeats >= heartbeatsBefore + 2, 20_000);
    kubelet.release(world.namespace, 'busy');
    await cluster.restart();

    await eventually('CONTINUE after the apiserver came back', async () => (await actionOf(victim!.instanceId)).result !== null, 90_000, 500);
    expect(await actionOf(victim!.instanceId)).toMatchObject({ result: 'CONTINUE', resultSource: 'complete', completeCalls: 1 });
    expect(service.countLogs(/failed to drain node/u)).toBe(0);
    expect(service.countLogs(/abandoning instance/u)).toBe(0);
  });
});

async function actionOf(instanceId: string): Promise<{ heartbeats: number; result: string | null; resultSource: string | null; completeCalls: number }> {
  const res = await fetch(`${info.motoEndpoint}/_lifecycle/actions`);
  const all = ((await res.json()) as { actions: Array<{ instanceId: string; heartbeats: number; result: string | null; resultSource: string | null; completeCalls: number }> }).actions;
  const a = all.find((x) => x.instanceId === instanceId);
  if (!a) throw new Error(`no lifecycle action for ${instanceId}`);
  return a;
}
