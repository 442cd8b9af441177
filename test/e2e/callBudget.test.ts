import { join } from 'node:path';
import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { listCounts } from '../../bench/extract.js';
import { counterSamples, delta, sum } from '../../bench/figures.js';
import { testAwsClients } from '../harness/awsClients.js';
import { adminKubeConfig, eventually } from '../harness/infra.js';
import { FakeKubelet } from '../harness/kubelet.js';
import { type KubeRequestLog, startKubeRequestLog } from '../harness/kubeRequestLog.js';
import { type LifecycleManagerProcess, startLifecycleManager } from '../harness/lifecycleManager.js';
import { loadBalancerFixtures, testVpc } from '../harness/loadBalancers.js';
import { createBinding, deleteBinding } from '../harness/targetGroupBindings.js';
import { type Moto, motoAwsEnv, startMoto } from '../harness/moto.js';
import { buildWorld } from '../harness/world.js';

/**
 * The deterministic part of the benchmark (bench/README.md, scenarios S1 and S4) as an ordinary test: scaled-down
 * bursts must stay within fixed per-event budgets of AWS and Kubernetes calls, and never LIST every node or every pod
 * for an event. As in the bench, the window opens once the service's region index is built (a running service). It
 * runs on its own moto, so the region it indexes holds exactly its own target groups whatever other test files do
 * meanwhile; the apiserver is the shared one, seen through a recording proxy (test/harness/kubeRequestLog.ts)
 * that tells a per-node pod LIST from one of the whole cluster. Only counts are asserted, never times.
 */
const EVENTS = 20;
const TARGET_GROUPS = 40;
const PODS_PER_NODE = 2;
/** The S1 budget: AWS calls per event, heartbeats excluded (their number grows with time, not with work). */
const AWS_CALLS_PER_EVENT = 8;
/** The S4 budget: the same, on EKS (target groups bound to the cluster, every node in them). */
const AWS_CALLS_PER_EVENT_BOUND = 5;
/**
 * The Kubernetes budget: calls per event without the one eviction per pod (which every drain through the
 * eviction API needs). What remains: the action's Lease (a create and a delete; a phase write only for a phase that
 * lasts a third of its lease duration), the replica's own Lease renewals (shared by every action, a few per burst),
 * one cordon PATCH (at receipt; the drain attempt sees it done in the node index), one per-node pod LIST and one pod
 * WATCH (the plan's LIST also gives the pod IPs for the load balancers; the drain's watch starts from its
 * resourceVersion and answers the drain's polls), no PodDisruptionBudget LIST (the index serve filled at startup), five Node Events (the deregistrations are
 * one), one Node delete: 11. Before this work: 19.65 (per-action Lease renewals, five pod LISTs, a PDB LIST, two
 * PATCHes, an Event per target group).
 */
const KUBE_CALLS_PER_EVENT = 12;

const info = inject('harness');
let moto: Moto;
let recorder: KubeRequestLog;
let kubelet: FakeKubelet;
let service: LifecycleManagerProcess | undefined;

beforeAll(async () => {
  const { ensureMoto } = (await import(join(info.repoRoot, 'scripts', 'testinfra.mjs'))) as { ensureMoto(): string };
  moto = await startMoto(ensureMoto(), info.repoRoot, { logFile: join(info.workDir, 'moto-call-budget.log') });
  recorder = await startKubeRequestLog({
    kubeconfigPath: info.serviceKubeconfigPath, outputKubeconfigPath: join(info.workDir, 'call-budget.kubeconfig'),
    tls: { certFile: join(info.workDir, 'cluster', 'serving.crt'), keyFile: join(info.workDir, 'cluster', 'serving.key') },
  });
  kubelet = new FakeKubelet(adminKubeConfig(info), { graceScale: 0.05 });
  await kubelet.start();
});

afterAll(async () => {
  await service?.stop();
  kubelet?.stop();
  await recorder?.close();
  await moto?.stop();
});

describe('call budget per event (scaled-down S1 burst)', () => {
  it(`${EVENTS} simultaneous terminations, ${TARGET_GROUPS} target groups in the region with 2 holding each instance: at most ${AWS_CALLS_PER_EVENT} AWS and ${KUBE_CALLS_PER_EVENT} Kubernetes calls per event (evictions aside), no LIST of all nodes or all pods`, async () => {
    const aws = testAwsClients(moto.endpoint);
    const world = await buildWorld(aws, kubelet, { instances: EVENTS, heartbeatTimeoutSeconds: 60, podsPerNode: PODS_PER_NODE });
    const lb = loadBalancerFixtures(aws);
    const groups: string[] = [];
    for (let g = 0; g < TARGET_GROUPS; g++) groups.push(await lb.targetGroup(`budget-${g}-${world.id}`, { deregistrationDelaySeconds: 1 }));
    // Instance k is in groups 2k and 2k+1: every group holds one instance, so no call can be shared between events.
    for (const [k, instance] of world.instances.entries()) {
      for (const arn of [groups[(2 * k) % TARGET_GROUPS]!, groups[(2 * k + 1) % TARGET_GROUPS]!]) await lb.register(arn, [{ id: instance.instanceId, port: 80 }]);
    }
    expect(await lb.targetGroupCount()).toBe(TARGET_GROUPS);
    service = await startLifecycleManager({
      repoRoot: info.repoRoot, kubeconfigPath: recorder.kubeconfigPath, queueName: world.queueName, awsEnv: motoAwsEnv(moto.endpoint),
      // Long visibility and Lease periods: the calls that keep a message or a Lease alive grow with time, not work.
      flags: ['--max-drain-concurrency', '32', '--drain-interval', '1', '--visibility-timeout', '300', '--lease-duration', '60'], logFile: join(info.workDir, `lifecycle-manager-call-budget-${world.queueName}.log`),
    });
    const { before, after, results, firstRequest } = await burst(world, service);

    const awsCalls = delta(counterSamples(before, 'lifecycle_manager_aws_api_calls_total', ['service', 'operation']), counterSamples(after, 'lifecycle_manager_aws_api_calls_total', ['service', 'operation']));
    const kubeCalls = delta(counterSamples(before, 'lifecycle_manager_kube_api_calls_total', ['verb', 'resource']), counterSamples(after, 'lifecycle_manager_kube_api_calls_total', ['verb', 'resource']));
    const awsPerEvent = sum(awsCalls, (op) => op === 'autoscaling:RecordLifecycleActionHeartbeat') / EVENTS;
    const kubePerEvent = sum(kubeCalls, (call) => call === 'create:pods/eviction') / EVENTS;
    const lists = listCounts(recorder.requests.slice(firstRequest));
    process.stderr.write(`call budget: ${EVENTS} events: ${awsPerEvent.toFixed(2)} AWS calls/event ${JSON.stringify(awsCalls)}; `
      + `${kubePerEvent.toFixed(2)} Kubernetes calls/event without evictions ${JSON.stringify(kubeCalls)}; LISTs ${JSON.stringify(lists)}\n`);

    expect(results).toEqual(Array.from({ length: EVENTS }, () => 'CONTINUE (complete)'));
    // Every target of every instance left its groups, so the calls counted did the whole job.
    for (const arn of groups) expect(await lb.health(arn)).toEqual([]);
    expect(awsPerEvent).toBeLessThanOrEqual(AWS_CALLS_PER_EVENT);
    expect(kubePerEvent).toBeLessThanOrEqual(KUBE_CALLS_PER_EVENT);
    // Pods are listed per node (spec.nodeName field selector) once, then watched during the drain (same selector), and Nodes come from the informer's watch: the recorder saw the per-node LISTs and watches (so it was
    // looking), at most one LIST per event, and no LIST of every pod or node beyond a watch (re)connection.
    expect(lists.podsOnNodeLists).toBeGreaterThanOrEqual(EVENTS);
    expect(lists.podsOnNodeLists).toBeLessThanOrEqual(EVENTS);
    expect(lists.podsOnNodeWatches).toBeGreaterThanOrEqual(EVENTS);
    expect(lists.allPodsLists).toBe(0);
    expect(lists.allNodesLists).toBeLessThanOrEqual(lists.nodeWatches);
    // The drain plan reads the PodDisruptionBudgets from the index serve filled (and watches) before the window.
    expect(lists.pdbLists).toBe(0);
    // One cordon PATCH per event: the drain attempt sees in the node index that the cordon step did it.
    expect(kubeCalls['patch:nodes']).toBe(EVENTS);
  });

  it(`${EVENTS} simultaneous terminations on EKS — 4 target groups bound by TargetGroupBindings holding every node (2) or its pods (2), ${TARGET_GROUPS} others in the region: at most ${AWS_CALLS_PER_EVENT_BOUND} AWS and ${KUBE_CALLS_PER_EVENT} Kubernetes calls per event (evictions aside)`, async () => {
    await service?.stop();
    service = undefined;
    const aws = testAwsClients(moto.endpoint);
    const admin = adminKubeConfig(info);
    const world = await buildWorld(aws, kubelet, { instances: EVENTS, heartbeatTimeoutSeconds: 60, podsPerNode: PODS_PER_NODE });
    const lb = loadBalancerFixtures(aws);
    const vpcID = await testVpc(aws);
    const bound: string[] = [];
    for (let g = 0; g < 2; g++) {
      const arn = await lb.targetGroup(`svc${g}-${world.id}`, { port: 30080 + g, deregistrationDelaySeconds: 1 });
      await lb.register(arn, world.instances.map((i) => ({ id: i.instanceId, port: 30080 + g })));
      await createBinding(admin, { namespace: world.namespace, name: `svc${g}`, targetGroupARN: arn, targetType: 'instance', vpcID });
      bound.push(arn);
    }
    const podIps = await Promise.all(world.instances.map(async (i) => (await world.podsOn(i.nodeName)).map((p) => p.status!.podIP!).sort()));
    for (let g = 0; g < 2; g++) {
      const arn = await lb.targetGroup(`pods${g}-${world.id}`, { targetType: 'ip', port: 8080, deregistrationDelaySeconds: 1 });
      await lb.register(arn, podIps.map((ips) => ({ id: ips[g]!, port: 8080 })));
      await createBinding(admin, { namespace: world.namespace, name: `pods${g}`, targetGroupARN: arn, targetType: 'ip', vpcID });
      bound.push(arn);
    }
    service = await startLifecycleManager({
      repoRoot: info.repoRoot, kubeconfigPath: recorder.kubeconfigPath, queueName: world.queueName, awsEnv: motoAwsEnv(moto.endpoint),
      flags: ['--max-drain-concurrency', '32', '--drain-interval', '1', '--visibility-timeout', '300', '--lease-duration', '60'], logFile: join(info.workDir, `lifecycle-manager-call-budget-${world.queueName}.log`),
    });
    try {
      const { before, after, results } = await burst(world, service);
      const awsCalls = delta(counterSamples(before, 'lifecycle_manager_aws_api_calls_total', ['service', 'operation']), counterSamples(after, 'lifecycle_manager_aws_api_calls_total', ['service', 'operation']));
      const awsPerEvent = sum(awsCalls, (op) => op === 'autoscaling:RecordLifecycleActionHeartbeat') / EVENTS;
      const kubeCalls = delta(counterSamples(before, 'lifecycle_manager_kube_api_calls_total', ['verb', 'resource']), counterSamples(after, 'lifecycle_manager_kube_api_calls_total', ['verb', 'resource']));
      const kubePerEvent = sum(kubeCalls, (call) => call === 'create:pods/eviction') / EVENTS;
      process.stderr.write(`call budget (bound): ${EVENTS} events: ${awsPerEvent.toFixed(2)} AWS calls/event ${JSON.stringify(awsCalls)}; ${kubePerEvent.toFixed(2)} Kubernetes calls/event without evictions ${JSON.stringify(kubeCalls)}\n`);
      expect(results).toEqual(Array.from({ length: EVENTS }, () => 'CONTINUE (complete)'));
      for (const arn of bound) expect(await lb.health(arn)).toEqual([]);
      // Every bound group was left through merged calls: far fewer than one DeregisterTargets per event and group.
      expect(awsCalls['elasticloadbalancingv2:DeregisterTargets'] ?? 0).toBeLessThanOrEqual(EVENTS);
      expect(awsPerEvent).toBeLessThanOrEqual(AWS_CALLS_PER_EVENT_BOUND);
      // Four groups hold each node, yet one TargetDeregisterSucceeded Event: the Events do not grow with the groups.
      expect(kubeCalls['create:events']).toBe(5 * EVENTS);
      expect(kubePerEvent).toBeLessThanOrEqual(KUBE_CALLS_PER_EVENT);
    } finally {
      for (const name of ['svc0', 'svc1', 'pods0', 'pods1']) await deleteBinding(admin, world.namespace, name);
    }
  });
});

/**
 * Waits for the running service's region index, terminates every instance of the world at once and waits until
 * each action ended and each message was settled: the counters before and after, the actions' results.
 */
async function burst(world: Awaited<ReturnType<typeof buildWorld>>, lm: LifecycleManagerProcess) {
  await lm.waitForLog(/load-balancer index built: /u, 120_000);
  const before = await lm.metricsText();
  const firstRequest = recorder.requests.length;
  await Promise.all(world.instances.map((i) => world.terminate(i.instanceId)));
  const results = await eventually(`all ${EVENTS} lifecycle actions to end`, async () => {
    const res = await fetch(`${moto.endpoint}/_lifecycle/actions`);
    const mine = ((await res.json()) as { actions: Array<{ autoScalingGroupName: string; result: string | null; resultSource: string | null }> }).actions
      .filter((a) => a.autoScalingGroupName === world.autoScalingGroupName);
    return mine.length === EVENTS && mine.every((a) => a.resultSource !== null) ? mine.map((a) => `${a.result} (${a.resultSource})`) : undefined;
  }, 150_000, 500);
  await eventually('every message settled', async () => {
    if ((await lm.metric('lifecycle_manager_terminating_instances_count')) !== 0) return false;
    const q = await testAwsClients(moto.endpoint).sqs.send(new GetQueueAttributesCommand({ QueueUrl: world.queueUrl, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }));
    return Number(q.Attributes?.['ApproximateNumberOfMessages']) + Number(q.Attributes?.['ApproximateNumberOfMessagesNotVisible']) === 0;
  }, 60_000, 250);
  return { before, after: await lm.metricsText(), results, firstRequest };
}
