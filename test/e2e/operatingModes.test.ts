import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFaultProxy } from '../harness/faultProxy.js';
import { adminKubeConfig, eventually } from '../harness/infra.js';
import { startKubeRequestLog } from '../harness/kubeRequestLog.js';
import { loadBalancerFixtures, testVpc } from '../harness/loadBalancers.js';
import { createBinding } from '../harness/targetGroupBindings.js';
import type { World } from '../harness/world.js';
import { e2eFixture } from './fixture.js';

/**
 * The operating modes NTH users expect: --dry-run (everything read and decided, nothing changed in the cluster or in
 * AWS, the plan published as one Event), --cordon-only (cordon, deregister, complete; no eviction), --taint-node (our
 * own taint with the cordon, removed when the action is abandoned and the node stays).
 */
const f = e2eFixture({ graceScale: 0.05 });
const admin = adminKubeConfig(f.info);
const lb = loadBalancerFixtures(f.aws);
const tls = { certFile: join(f.info.workDir, 'cluster', 'serving.crt'), keyFile: join(f.info.workDir, 'cluster', 'serving.key') };
const closers: Array<() => Promise<void>> = [];
beforeAll(() => f.start());
afterAll(async () => {
  await f.stop();
  for (const close of closers) await close();
  await lb.cleanup();
});

const FAST = ['--polling-interval', '1', '--drain-interval', '1', '--node-join-timeout', '5', '--lb-discovery', 'targeted', '--deregistration-timeout', '30'];
/** Operations that read: anything else an API is sent is a write. */
const READS = /^(Describe|Get|List|Receive)/u;

/** Our taint only: the apiserver's admission adds its own (node.kubernetes.io/not-ready) to a new Node. */
const ourTaints = (node: k8s.V1Node) => (node.spec?.taints ?? []).filter((t) => t.key === 'lifecycle-manager.io/terminating');

/**
 * A target group the AWS Load Balancer Controller made for a Service (a TargetGroupBinding, the victim registered by
 * hand), not attached to the Auto Scaling group: AWS itself takes an instance out of the group's own attachments when
 * it enters Terminating:Wait (the emulator too), so only a group like this one shows what the service did or did not.
 */
async function boundGroup(world: World, name: string, instanceId: string): Promise<string> {
  const arn = await lb.targetGroup(`${name}-${world.id}`, { deregistrationDelaySeconds: 1 });
  await lb.register(arn, [{ id: instanceId, port: 80 }]);
  await createBinding(admin, { namespace: world.namespace, name, targetGroupARN: arn, targetType: 'instance', vpcID: await testVpc(f.aws) });
  return arn;
}

const completion = (instanceId: string, timeoutMs = 60_000) => eventually('the action to end', async () =>
  (await f.actions(instanceId)).find((a) => a.resultSource !== null), timeoutMs, 200);

describe('--dry-run', () => {
  it('reads and plans everything, writes nothing but the message delete and its Event, and leaves the hook to its DefaultResult', async () => {
    // 20 s of heartbeat timeout: time enough, on a loaded machine, to look at everything before the hook expires.
    const world = await f.world({ instances: 1, heartbeatTimeoutSeconds: 20, defaultResult: 'CONTINUE', podsPerNode: 2 });
    const [victim] = world.instances;
    const group = await boundGroup(world, 'dry', victim!.instanceId);
    await admin.makeApiClient(k8s.PolicyV1Api).createNamespacedPodDisruptionBudget({ namespace: world.namespace, body: {
      metadata: { name: 'app-0-budget' }, spec: { maxUnavailable: 0, selector: { matchLabels: { app: 'app-0' } } },
    } });
    const aws = await startFaultProxy(f.info.motoEndpoint);
    const kube = await startKubeRequestLog({ kubeconfigPath: f.info.serviceKubeconfigPath, outputKubeconfigPath: join(f.info.workDir, `dry-run-${world.id}.kubeconfig`), tls });
    closers.push(() => aws.close(), () => kube.close());
    const lm = await f.serve(world, [...FAST, '--dry-run', '--taint-node'], { env: { AWS_ENDPOINT_URL: aws.endpoint }, kubeconfigPath: kube.kubeconfigPath });
    const [awsFrom, kubeFrom] = [aws.requests.length, kube.requests.length];

    await world.terminate(victim!.instanceId);
    const plan = await eventually('the DryRunPlan Event', async () => (await world.nodeEvents(victim!.nodeName)).find((e) => e.reason === 'DryRunPlan'), 30_000, 200);
    expect(plan.type).toBe('Normal');
    expect(plan.message).toMatch(new RegExp(`^dry run, nothing was changed: would cordon node ${victim!.nodeName} and label it to be excluded from load balancers and taint it lifecycle-manager.io/terminating=${victim!.instanceId}:NoSchedule; `
      + 'would deregister from target group dry-[^;]+; would drain: 2 pods to evict \\(2 non-critical\\); 1 problem: pod [^:]+-pod-0: .*app-0-budget', 'u'));
    expect(plan.message).toMatch(/would complete CONTINUE .*the hook ends with its DefaultResult \(CONTINUE\) after its HeartbeatTimeout/u);
    await eventually('the message to be deleted', async () => aws.requests.some((r) => r.operation === 'DeleteMessage'), 30_000, 100);

    // Before the hook expires (the emulator then terminates the instance and its targets go): nothing was touched.
    const node = await f.kubelet.core.readNode({ name: victim!.nodeName });
    expect({ unschedulable: node.spec?.unschedulable ?? false, ours: ourTaints(node) }).toEqual({ unschedulable: false, ours: [] });
    expect((await world.podsOn(victim!.nodeName)).length).toBe(2);
    expect((await lb.health(group, [{ id: victim!.instanceId, port: 80 }]))[0]?.state).toBe('healthy');
    // The hook ends as if nothing were installed: by its heartbeat timeout, with its DefaultResult, never completed.
    const action = await completion(victim!.instanceId, 60_000);
    expect({ result: action.result, source: action.resultSource, completes: action.completeCalls, heartbeats: action.heartbeats }).toEqual({ result: 'CONTINUE', source: 'expired', completes: 0, heartbeats: 0 });
    const writes = aws.requests.slice(awsFrom).filter((r) => !READS.test(r.operation)).map((r) => `${r.service}:${r.operation}`);
    // Deletes only: the termination's message and the hook's TEST_NOTIFICATION, which is dropped as always.
    expect([...new Set(writes)]).toEqual(['sqs:DeleteMessage']);
    expect(writes.length).toBeLessThanOrEqual(2);
    const kubeWrites = kube.requests.slice(kubeFrom).filter((r) => r.method !== 'GET').map((r) => `${r.method} ${r.url.replace(/\?.*$/u, '')}`);
    expect([...new Set(kubeWrites)]).toEqual([`POST /api/v1/namespaces/default/events`]);
    expect(await lm.metric('lifecycle_manager_dry_run_plans_total', { outcome: 'complete' })).toBe(1);
    expect(lm.countLogs(/level=info msg="[^"]*dry run for event .*would drain: 2 pods to evict/u)).toBe(1);
  });
});

describe('--cordon-only', () => {
  it('cordons, deregisters and completes CONTINUE, and evicts nothing', async () => {
    const world = await f.world({ instances: 1, heartbeatTimeoutSeconds: 30, podsPerNode: 2 });
    const [victim] = world.instances;
    const group = await boundGroup(world, 'cordon', victim!.instanceId);
    const lm = await f.serve(world, [...FAST, '--cordon-only']);
    await world.terminate(victim!.instanceId);
    const action = await completion(victim!.instanceId);
    expect({ result: action.result, source: action.resultSource, completes: action.completeCalls }).toEqual({ result: 'CONTINUE', source: 'complete', completes: 1 });
    const node = await f.kubelet.core.readNode({ name: victim!.nodeName });
    expect(node.spec?.unschedulable).toBe(true);
    expect((await world.podsOn(victim!.nodeName)).filter((p) => !p.metadata?.deletionTimestamp).length).toBe(2);
    expect((await lb.health(group, [{ id: victim!.instanceId, port: 80 }]))[0]?.state).toBe('unused');
    expect(await lm.metric('lifecycle_manager_successful_lb_deregister_total')).toBe(1);
  });
});

describe('--taint-node', () => {
  it('taints the node with the cordon, and removes the taint when the drain fails and the action is abandoned', async () => {
    const world = await f.world({ instances: 1, heartbeatTimeoutSeconds: 30, podsPerNode: 1 });
    const [victim] = world.instances;
    await admin.makeApiClient(k8s.PolicyV1Api).createNamespacedPodDisruptionBudget({ namespace: world.namespace, body: {
      metadata: { name: 'never' }, spec: { maxUnavailable: 0, selector: { matchLabels: { app: 'app-0' } } },
    } });
    const lm = await f.serve(world, [...FAST, '--with-deregister=false', '--taint-node', '--taint-effect', 'PreferNoSchedule',
      '--drain-timeout', '4', '--drain-retries', '1', '--max-termination-grace-period', '0']);
    await world.terminate(victim!.instanceId);
    const taint = await eventually('our taint on the node', async () => (await f.kubelet.core.readNode({ name: victim!.nodeName })).spec?.taints?.find((t) => t.key === 'lifecycle-manager.io/terminating'), 20_000, 100);
    expect({ value: taint.value, effect: taint.effect }).toEqual({ value: victim!.instanceId, effect: 'PreferNoSchedule' });
    const action = await completion(victim!.instanceId);
    expect({ result: action.result, completes: action.completeCalls }).toEqual({ result: 'ABANDON', completes: 1 });
    const node = await f.kubelet.core.readNode({ name: victim!.nodeName });
    expect(ourTaints(node)).toEqual([]);
    expect(lm.countLogs(/removed taint lifecycle-manager.io\/terminating/u)).toBe(1);
  });

  it('refuses contradictory combinations with one line each, before contacting anything', () => {
    const run = (args: string[]) => spawnSync(process.execPath, [join(f.info.repoRoot, 'dist', 'src', 'cli', 'main.js'), 'serve', '--queue-name', 'q', '--region', 'us-east-1', ...args], {
      env: { PATH: process.env['PATH'] ?? '', ...f.awsEnv }, encoding: 'utf8', timeout: 60_000,
    });
    const noExecute = run(['--cordon-only', '--taint-node', '--taint-effect', 'NoExecute']);
    expect({ code: noExecute.status, lines: noExecute.stderr.trim().split('\n') }).toEqual({ code: 1, lines: [
      'lifecycle-manager: --taint-effect NoExecute evicts the pods (without their PodDisruptionBudgets), which --cordon-only promises not to do: use NoSchedule or PreferNoSchedule',
    ] });
    const effectAlone = run(['--taint-effect', 'PreferNoSchedule']);
    expect({ code: effectAlone.status, lines: effectAlone.stderr.trim().split('\n') }).toEqual({ code: 1, lines: ['lifecycle-manager: --taint-effect needs --taint-node'] });
  });
});
