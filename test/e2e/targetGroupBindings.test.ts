import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { testAwsClients } from '../harness/awsClients.js';
import { type TestCluster, startTestCluster } from '../harness/cluster.js';
import { type FaultProxy, startFaultProxy } from '../harness/faultProxy.js';
import { SERVICE_NAMESPACE, adminKubeConfig, eventually } from '../harness/infra.js';
import { FakeKubelet } from '../harness/kubelet.js';
import { type LifecycleManagerProcess, startLifecycleManager } from '../harness/lifecycleManager.js';
import { type Target, loadBalancerFixtures, otherVpc, testVpc } from '../harness/loadBalancers.js';
import { motoAwsEnv } from '../harness/moto.js';
import { SERVICE_USER, bindClusterRole, bindRole, kubeconfigFor, shippedClusterRoleRules, shippedRoleRules } from '../harness/rbac.js';
import { createBinding, deleteBinding, installTargetGroupBindingCrd } from '../harness/targetGroupBindings.js';
import { type World, buildWorld } from '../harness/world.js';

/**
 * On EKS the AWS Load Balancer Controller's target groups are bound to the cluster by TargetGroupBindings, not
 * attached to the Auto Scaling group. These tests create bindings as the controller does (its webhook's targetType
 * and vpcID filled in) and register the targets it would. `--lb-discovery targeted` looks at nothing but the
 * Auto Scaling group and the bindings, so a target group is left only if its binding was used.
 */
const info = inject('harness');
const aws = testAwsClients(info.motoEndpoint);
const lb = loadBalancerFixtures(aws);
const FAST = ['--polling-interval', '1', '--drain-interval', '1', '--log-level', 'debug', '--with-deregister=true', '--lb-api-rate', '50'];
const services: LifecycleManagerProcess[] = [];
const proxies: FaultProxy[] = [];
const bindings: Array<{ namespace: string; name: string }> = [];

afterEach(async () => {
  await Promise.allSettled(services.splice(0).map((s) => s.stop()));
  await Promise.allSettled(proxies.splice(0).map((p) => p.close()));
  await Promise.allSettled(bindings.splice(0).map((b) => deleteBinding(adminKubeConfig(info), b.namespace, b.name)));
  await lb.cleanup();
});

const on = (id: string, port = 80): Target => ({ id, port });
const states = async (arn: string, targets: readonly Target[]): Promise<string[]> => (await lb.health(arn, targets)).map((t) => `${t.id}:${t.port} ${t.state}`);
/** DeregisterTargets the service made (once the action completes, the emulator drains the terminated instance itself, as AWS does). */
const deregisterCalls = (lm: LifecycleManagerProcess): Promise<number> => lm.metric('lifecycle_manager_aws_api_calls_total', { operation: 'DeregisterTargets' });
const succeeded = async (core: k8s.CoreV1Api, nodeName: string): Promise<string[]> =>
  (await core.listNamespacedEvent({ namespace: 'default', fieldSelector: `involvedObject.name=${nodeName}` })).items.filter((e) => e.reason === 'TargetDeregisterSucceeded').flatMap((e) => (e.message ?? '').split('; ')).sort();

async function actionResult(instanceId: string): Promise<string> {
  return eventually(`the lifecycle action of ${instanceId} to end`, async () => {
    const all = ((await (await fetch(`${info.motoEndpoint}/_lifecycle/actions`)).json()) as { actions: Array<{ instanceId: string; result: string | null; resultSource: string | null }> }).actions;
    const a = all.find((x) => x.instanceId === instanceId && x.result !== null);
    return a ? `${a.result} (${a.resultSource})` : undefined;
  }, 90_000, 250);
}

async function bind(kc: k8s.KubeConfig, world: World, name: string, arn: string, targetType: 'instance' | 'ip', vpcID: string): Promise<void> {
  await createBinding(kc, { namespace: world.namespace, name, targetGroupARN: arn, targetType, vpcID });
  bindings.push({ namespace: world.namespace, name });
}

describe('TargetGroupBindings: the CRD installed after startup (own apiserver, without the CRD at first)', () => {
  let cluster: TestCluster;
  let admin: k8s.KubeConfig;
  let kubelet: FakeKubelet;
  let kubeconfigPath: string;

  beforeAll(async () => {
    const { ensureTestCluster } = (await import(join(info.repoRoot, 'scripts', 'testinfra.mjs'))) as { ensureTestCluster(): string };
    cluster = await startTestCluster(ensureTestCluster(), { logFile: join(info.workDir, 'apiserver-bindings.log') });
    admin = new k8s.KubeConfig();
    admin.loadFromFile(cluster.kubeconfigPath);
    await bindClusterRole(admin, 'lifecycle-manager', shippedClusterRoleRules(info.repoRoot), SERVICE_USER);
    await bindRole(admin, SERVICE_NAMESPACE, 'lifecycle-manager', shippedRoleRules(info.repoRoot), SERVICE_USER);
    kubelet = new FakeKubelet(admin, { graceScale: 0.02 });
    await kubelet.start();
    kubeconfigPath = join(cluster.dir, 'service.kubeconfig');
    writeFileSync(kubeconfigPath, kubeconfigFor(cluster.kubeconfigPath, 'lifecycle-manager'));
  });

  afterAll(async () => {
    await Promise.allSettled(services.splice(0).map((s) => s.stop()));
    kubelet?.stop();
    await cluster?.stop();
  });

  it('works without the CRD, picks it up once installed, and the next event uses a binding created after startup', async () => {
    const world = await buildWorld(aws, kubelet, { instances: 3, heartbeatTimeoutSeconds: 30, podsPerNode: 1 });
    const [first, second, survivor] = world.instances;
    // An instance-mode Service's target group: every node on its NodePort, as the controller registers them.
    const web = await lb.targetGroup(`k8s-web-${world.id}`, { port: 30080, deregistrationDelaySeconds: 2 });
    await lb.register(web, world.instances.map((i) => on(i.instanceId, 30080)));
    const lm = await startLifecycleManager({
      repoRoot: info.repoRoot, kubeconfigPath, queueName: world.queueName, awsEnv: motoAwsEnv(info.motoEndpoint),
      flags: [...FAST, '--lb-discovery', 'targeted', '--node-watch-timeout', '10'], logFile: join(info.workDir, `lifecycle-manager-${world.queueName}-bindings.log`),
    });
    services.push(lm);
    await lm.waitForLog(/the TargetGroupBinding CRD \(elbv2\.k8s\.aws\/v1beta1\) is not installed; looking again every 10s/u, 10_000);

    // Without the CRD nothing breaks: the node is drained and the action completes; nothing binds the group yet.
    await world.terminate(first!.instanceId);
    expect(await actionResult(first!.instanceId)).toBe('CONTINUE (complete)');
    expect(await deregisterCalls(lm)).toBe(0);
    expect(await succeeded(kubelet.core, first!.nodeName)).toEqual([]);

    await installTargetGroupBindingCrd(admin, info.repoRoot);
    await lm.waitForLog(/watching TargetGroupBindings \(elbv2\.k8s\.aws\/v1beta1\): 0 in the cluster/u, 30_000);
    await createBinding(admin, { namespace: world.namespace, name: 'k8s-web', targetGroupARN: web, targetType: 'instance', vpcID: await testVpc(aws) });

    await world.terminate(second!.instanceId);
    expect(await actionResult(second!.instanceId)).toBe('CONTINUE (complete)');
    expect(await states(web, [on(second!.instanceId, 30080), on(survivor!.instanceId, 30080)])).toEqual([`${second!.instanceId}:30080 unused`, `${survivor!.instanceId}:30080 healthy`]);
    expect(await deregisterCalls(lm)).toBe(1);
    expect(await succeeded(kubelet.core, second!.nodeName)).toEqual([`target ${second!.instanceId}:30080 has successfully deregistered from target group k8s-web-${world.id}`]);
    expect(lm.countLogs(/level=(warning|error)/u)).toBe(0);
  });
});

describe('TargetGroupBindings (shared harness, CRD installed)', () => {
  // Pod IPs of their own: the ip groups here must not hold the pods of other test files' services.
  const kubelet = new FakeKubelet(adminKubeConfig(info), { graceScale: 0.02, podCidrBase: 128 });
  beforeAll(() => kubelet.start());
  afterAll(() => kubelet.stop());

  it('ignores a binding in another VPC: only the targets in the instance\'s VPC leave their groups', async () => {
    const world = await buildWorld(aws, kubelet, { instances: 2, heartbeatTimeoutSeconds: 30, podsPerNode: 1 });
    const [victim, survivor] = world.instances;
    const podIp = (await world.podsOn(victim!.nodeName))[0]!.status!.podIP!;
    const ours = await testVpc(aws);
    const theirs = await otherVpc(aws, '10.0.0.0/16');
    const mine = await lb.targetGroup(`k8s-pods-${world.id}`, { targetType: 'ip', port: 8080, deregistrationDelaySeconds: 1 });
    const nodes = await lb.targetGroup(`k8s-nodes-${world.id}`, { port: 30080, deregistrationDelaySeconds: 1 });
    const theirPods = await lb.targetGroup(`k8s-their-pods-${world.id}`, { targetType: 'ip', port: 8080, deregistrationDelaySeconds: 1, vpcId: theirs });
    const theirNodes = await lb.targetGroup(`k8s-their-nodes-${world.id}`, { port: 30080, deregistrationDelaySeconds: 1, vpcId: theirs });
    await lb.register(mine, [on(podIp, 8080)]);
    await lb.register(nodes, [on(victim!.instanceId, 30080), on(survivor!.instanceId, 30080)]);
    await lb.register(theirPods, [on(podIp, 8080)]); // another cluster's pod, same address (overlapping CIDRs)
    await lb.register(theirNodes, [on(victim!.instanceId, 30080)]); // AWS refuses this; the emulator does not
    const admin = adminKubeConfig(info);
    await bind(admin, world, 'pods', mine, 'ip', ours);
    await bind(admin, world, 'nodes', nodes, 'instance', ours);
    await bind(admin, world, 'their-pods', theirPods, 'ip', theirs);
    await bind(admin, world, 'their-nodes', theirNodes, 'instance', theirs);
    const lm = await startLifecycleManager({
      repoRoot: info.repoRoot, kubeconfigPath: info.serviceKubeconfigPath, queueName: world.queueName, awsEnv: motoAwsEnv(info.motoEndpoint),
      flags: [...FAST, '--lb-discovery', 'targeted'], logFile: join(info.workDir, `lifecycle-manager-${world.queueName}-vpc.log`),
    });
    services.push(lm);

    await world.terminate(victim!.instanceId);
    expect(await actionResult(victim!.instanceId)).toBe('CONTINUE (complete)');

    expect(await states(mine, [on(podIp, 8080)])).toEqual([`${podIp}:8080 unused`]);
    expect(await states(nodes, [on(victim!.instanceId, 30080), on(survivor!.instanceId, 30080)])).toEqual([`${victim!.instanceId}:30080 unused`, `${survivor!.instanceId}:30080 healthy`]);
    expect(await states(theirPods, [on(podIp, 8080)])).toEqual([`${podIp}:8080 healthy`]);
    // The other VPC's instance group: never deregistered from (the emulator drains the terminated instance on its own).
    expect(await deregisterCalls(lm)).toBe(2);
    expect(await succeeded(kubelet.core, victim!.nodeName)).toEqual([
      `target ${podIp}:8080 has successfully deregistered from target group k8s-pods-${world.id}`,
      `target ${victim!.instanceId}:30080 has successfully deregistered from target group k8s-nodes-${world.id}`,
    ].sort());
    expect(lm.countLogs(new RegExp(`k8s-their-(pods|nodes)-${world.id}`, 'u'))).toBe(0);
    expect(await lm.metric('lifecycle_manager_step_failures_total')).toBe(0);
  });

  it('a target group deleted while the index reads it costs only its own lookup; the event still leaves the others, CONTINUE', async () => {
    const world = await buildWorld(aws, kubelet, { instances: 1, heartbeatTimeoutSeconds: 30, podsPerNode: 1 });
    const [victim] = world.instances;
    const doomed = await lb.targetGroup(`doomed-${world.id}`, { deregistrationDelaySeconds: 1 });
    const kept = await lb.targetGroup(`kept-${world.id}`, { deregistrationDelaySeconds: 1 });
    await lb.register(doomed, [on(victim!.instanceId)]);
    await lb.register(kept, [on(victim!.instanceId)]);
    // Holds the index's read of `doomed` long enough to delete the group under it.
    const proxy = await startFaultProxy(info.motoEndpoint, [{ service: 'elasticloadbalancing', operation: 'DescribeTargetHealth', bodyIncludes: doomed, fault: 'latency', latencyMs: 2_000 }]);
    proxies.push(proxy);
    const lm = await startLifecycleManager({
      repoRoot: info.repoRoot, kubeconfigPath: info.serviceKubeconfigPath, queueName: world.queueName,
      awsEnv: { ...motoAwsEnv(info.motoEndpoint), AWS_ENDPOINT_URL: proxy.endpoint }, flags: FAST,
      logFile: join(info.workDir, `lifecycle-manager-${world.queueName}-deleted.log`),
    });
    services.push(lm);
    await eventually('the index to read the doomed group', async () => (proxy.injected.get('elasticloadbalancing:DescribeTargetHealth:latency') ?? 0) >= 1, 60_000, 50);
    await lb.deleteTargetGroup(doomed);
    await lm.waitForLog(/load-balancer index built: /u, 60_000);

    await world.terminate(victim!.instanceId);
    expect(await actionResult(victim!.instanceId)).toBe('CONTINUE (complete)');

    expect(await states(kept, [on(victim!.instanceId)])).toEqual([`${victim!.instanceId}:80 unused`]);
    expect(proxy.injected.get('elasticloadbalancing:DescribeTargetHealth:latency')).toBe(1);
    expect(lm.countLogs(new RegExp(`target group doomed-${world.id} no longer exists; the index forgets it`, 'u'))).toBe(1);
    expect(lm.countLogs(new RegExp(`doomed-${world.id}`, 'u'))).toBe(1);
    expect(await lm.metric('lifecycle_manager_step_failures_total')).toBe(0);
    expect(await lm.metric('lifecycle_manager_successful_lb_deregister_total')).toBe(1);
  });
});
