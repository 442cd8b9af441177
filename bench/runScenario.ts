import { readFileSync } from 'node:fs';
import * as k8s from '@kubernetes/client-node';
import { join } from 'node:path';
import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { testAwsClients } from '../test/harness/awsClients.js';
import { type Harness, adminKubeConfig, eventually, startHarness } from '../test/harness/infra.js';
import { FakeKubelet } from '../test/harness/kubelet.js';
import { type KubeRequestLog, startKubeRequestLog } from '../test/harness/kubeRequestLog.js';
import { type LifecycleManagerProcess, startLifecycleManager, sumMetric } from '../test/harness/lifecycleManager.js';
import { motoAwsEnv } from '../test/harness/moto.js';
import { buildWorld } from '../test/harness/world.js';
import { cordonTimes, listCounts, logTimes, receiptTimes } from './extract.js';
import { counterSamples, delta, heartbeatLatenessSeconds, perEvent, percentiles, sum } from './figures.js';
import { buildLoadBalancers } from './loadBalancerWorld.js';
import { ActionPoller, MetricSampler, PodDeletionWatch, TargetStatePoll, cpuSeconds, elbCalls, indexBuildSeconds, peakRssMib, rssMib, steadyRate } from './observers.js';
import type { ScenarioReport, ScenarioSpec, SideFigures } from './scenarios.js';

const AWS_CALLS = 'lifecycle_manager_aws_api_calls_total';
const KUBE_CALLS = 'lifecycle_manager_kube_api_calls_total';
const HEARTBEAT_OPERATION = 'autoscaling:RecordLifecycleActionHeartbeat';

export interface ScenarioOutcome {
  readonly report: ScenarioReport;
  readonly side: SideFigures;
  /** Where the harness, service and apiserver logs of this run are. */
  readonly workDir: string;
}

const note = (line: string): void => { process.stderr.write(`bench: ${line}\n`); };

/**
 * One scenario on a fresh harness: build the world (Auto Scaling group with its termination hook, Nodes, pods,
 * target groups), start the built service behind the request recorder, terminate every instance at once, wait until
 * the emulator has every lifecycle action ended and the service has settled its messages, then compute the figures.
 */
export async function runScenario(spec: ScenarioSpec): Promise<ScenarioOutcome> {
  const deadline = Date.now() + spec.timeoutMs;
  const left = (): number => Math.max(1_000, deadline - Date.now());
  note(`${spec.name}: starting kube-apiserver + etcd and moto`);
  const harness: Harness = await startHarness();
  const { info } = harness;
  const kubelet = new FakeKubelet(adminKubeConfig(info), { graceScale: spec.graceScale });
  let recorder: KubeRequestLog | undefined;
  let service: LifecycleManagerProcess | undefined;
  let pods: PodDeletionWatch | undefined;
  let poller: ActionPoller | undefined;
  let targetPoll: TargetStatePoll | undefined;
  try {
    await kubelet.start();
    const aws = testAwsClients(info.motoEndpoint);
    const setupStarted = Date.now();
    const world = await buildWorld(aws, kubelet, { instances: spec.events + spec.stayingNodes, heartbeatTimeoutSeconds: spec.heartbeatTimeoutSeconds, podsPerNode: spec.podsPerNode });
    const terminated = world.instances.slice(0, spec.events);
    const built = await buildLoadBalancers(aws, adminKubeConfig(info), world, spec.layout, terminated, world.instances.slice(spec.events), spec.deregistrationDelaySeconds);
    const { groups } = built;
    const targetGroupCount = groups.length > 0 ? await built.fixtures.targetGroupCount() : 0;
    note(`${spec.name}: world ready in ${((Date.now() - setupStarted) / 1000).toFixed(0)}s: ${world.instances.length} instances/Nodes, ${spec.podsPerNode * world.instances.length} pods, ${targetGroupCount} target groups (${built.bound} bound by TargetGroupBindings)`);

    recorder = await startKubeRequestLog({
      kubeconfigPath: info.serviceKubeconfigPath, outputKubeconfigPath: join(info.workDir, 'recorded-service.kubeconfig'),
      tls: { certFile: join(harness.cluster.dir, 'serving.crt'), keyFile: join(harness.cluster.dir, 'serving.key') },
      captureBody: (method, url) => (method === 'POST' && /\/leases(\?|$)/u.test(url)) || (method === 'PATCH' && url.startsWith('/api/v1/nodes/')),
    });
    const nodeOf = new Map(world.instances.map((i) => [i.instanceId, i.nodeName]));
    pods = new PodDeletionWatch(adminKubeConfig(info), new Set(nodeOf.values()));
    await pods.start();
    const logFile = join(info.workDir, 'lifecycle-manager.log');
    service = await startLifecycleManager({
      repoRoot: info.repoRoot, kubeconfigPath: recorder.kubeconfigPath, queueName: world.queueName,
      awsEnv: motoAwsEnv(info.motoEndpoint), flags: ['--log-format', 'json', ...spec.flags], logFile,
      // Run it as deployed: with the heap cap the chart and the image set.
      env: { NODE_OPTIONS: shippedNodeOptions(info.repoRoot) },
    });
    const pid = service.process.child.pid!;
    // The window opens on a running service: its region index built (the build's cost is reported on its own).
    let indexBuild: ScenarioReport['lb_index_build'] = null;
    if (groups.length > 0) {
      await service.waitForLog(/load-balancer index built: /u, left());
      const atStart = await service.metricsText();
      indexBuild = { seconds: indexBuildSeconds(logFile), elb_calls: elbCalls(atStart) };
      note(`${spec.name}: region index built in ${indexBuild.seconds}s with ${indexBuild.elb_calls} Elastic Load Balancing calls (before the window)`);
    }

    const metricsBefore = await service.metricsText();
    const cpuBefore = cpuSeconds(pid);
    const rssIdle = rssMib(pid);
    const requestsBefore = recorder.requests.length;
    const connectionsBefore = recorder.connections();
    poller = new ActionPoller(info.motoEndpoint, world.autoScalingGroupName, spec.actionPollMs);
    if (spec.measureOvershoot) targetPoll = new TargetStatePoll(aws.elbv2, groups[0]!, { id: world.instances[0]!.instanceId, port: 80 }, 100);

    const startedAtMs = Date.now();
    const sampler = new MetricSampler(() => service!.metricsText(), 5_000);
    const terminatedAtMs: number[] = [];
    if (spec.spacingMs > 0) {
      note(`${spec.name}: terminating ${terminated.length} instances, one every ${spec.spacingMs / 1000}s`);
      for (const [k, i] of terminated.entries()) {
        await new Promise((r) => setTimeout(r, Math.max(0, startedAtMs + k * spec.spacingMs - Date.now())));
        terminatedAtMs.push(Date.now());
        await world.terminate(i.instanceId);
      }
    } else {
      note(`${spec.name}: terminating ${terminated.length} instances at once`);
      await Promise.all(terminated.map((i) => { terminatedAtMs.push(Date.now()); return world.terminate(i.instanceId); }));
    }
    const progress = setInterval(() => note(`${spec.name}: ${poller!.ended}/${spec.events} lifecycle actions ended after ${((Date.now() - startedAtMs) / 1000).toFixed(0)}s`), 30_000);
    try {
      await eventually(`all ${spec.events} lifecycle actions to end`, async () => poller!.ended === spec.events, left(), 500);
    } finally {
      clearInterval(progress);
    }
    // Settled: no action in flight and every message deleted from the queue.
    await eventually('the service to settle its messages', async () => {
      if ((await service!.metric('lifecycle_manager_terminating_instances_count')) !== 0) return false;
      const q = await aws.sqs.send(new GetQueueAttributesCommand({ QueueUrl: world.queueUrl, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }));
      return Number(q.Attributes?.['ApproximateNumberOfMessages']) + Number(q.Attributes?.['ApproximateNumberOfMessagesNotVisible']) === 0;
    }, Math.min(left(), 120_000), 500);
    const metricsAfter = await service.metricsText();
    await sampler.stop();
    const cpu = cpuSeconds(pid) - cpuBefore;
    const rss = peakRssMib(pid);
    const mib = (name: string): string => (sumMetric(metricsAfter, name) / 2 ** 20).toFixed(1);
    note(`${spec.name}: service memory at the end: peak RSS ${rss} MiB, RSS now ${mib('process_resident_memory_bytes')} MiB, V8 heap used ${mib('nodejs_heap_size_used_bytes')} of ${mib('nodejs_heap_size_total_bytes')} MiB, external ${mib('nodejs_external_memory_bytes')} MiB`);
    const windowRequests = recorder.requests.slice(requestsBefore);
    note(`${spec.name}: the service made ${windowRequests.length} Kubernetes requests over ${recorder.connections() - connectionsBefore} new TLS connections in the window`);
    await poller.stop();
    await targetPoll?.stop();
    pods.stop();
    await service.stop();

    return {
      workDir: info.workDir,
      ...figures(spec, {
        startedAtMs, metricsBefore, metricsAfter, cpu, rss, rssIdle, targetGroupCount, nodeOf, logFile,
        requests: recorder.requests, windowRequests, poller, pods, targetPoll,
        overshootGroupName: groups[0] ? groups[0].split('/')[1]! : '',
        bound: built.bound, groupsPerTerminated: built.groupsPerTerminated, indexBuild,
        steadyElbPerMinute: spec.spacingMs > 0 ? steadyRate(sampler.samples, terminatedAtMs[9], terminatedAtMs[49]) : null,
      }),
    };
  } finally {
    await poller?.stop().catch(() => undefined);
    await targetPoll?.stop().catch(() => undefined);
    pods?.stop();
    await service?.stop().catch(() => undefined);
    kubelet.stop();
    await recorder?.close().catch(() => undefined);
    await harness.stop();
  }
}

interface Observed {
  readonly startedAtMs: number;
  readonly metricsBefore: string;
  readonly metricsAfter: string;
  readonly cpu: number;
  readonly rss: number;
  readonly rssIdle: number;
  readonly targetGroupCount: number;
  readonly nodeOf: ReadonlyMap<string, string>;
  readonly logFile: string;
  readonly requests: Parameters<typeof receiptTimes>[0];
  readonly windowRequests: Parameters<typeof listCounts>[0];
  readonly poller: ActionPoller;
  readonly pods: PodDeletionWatch;
  readonly targetPoll: TargetStatePoll | undefined;
  readonly overshootGroupName: string;
  readonly bound: number;
  readonly groupsPerTerminated: number;
  readonly indexBuild: ScenarioReport['lb_index_build'];
  readonly steadyElbPerMinute: number | null;
}

function figures(spec: ScenarioSpec, o: Observed): { report: ScenarioReport; side: SideFigures } {
  const received = receiptTimes(o.requests);
  const cordoned = cordonTimes(o.requests);
  const logged = logTimes(o.logFile);
  const actions = [...o.poller.actions.values()];

  const receiptToCordon: number[] = [];
  const completionOverhead: number[] = [];
  let lateness: number | null = null;
  let worst: { instanceId: string; points: number[] } | undefined;
  const results: Record<string, number> = {};
  for (const a of actions) {
    const outcome = a.resultSource === 'complete' ? a.result ?? 'unknown' : `${a.result ?? 'none'} (${a.resultSource ?? 'pending'})`;
    results[outcome] = (results[outcome] ?? 0) + 1;
    const node = o.nodeOf.get(a.instanceId)!;
    const receivedAt = received.get(a.instanceId);
    const cordonedAt = cordoned.get(node);
    if (receivedAt !== undefined && cordonedAt !== undefined) receiptToCordon.push(cordonedAt - receivedAt);
    // The moment the node was empty and out of every load balancer: its last pod deleted, its last target out of
    // draining (S3: seen by polling the target; otherwise the service's own "deregistered from …" line, an upper bound).
    const gone = o.pods.deleted.get(node);
    const podsGoneAt = gone && gone.count >= spec.podsPerNode ? gone.lastAtMs : spec.podsPerNode === 0 ? 0 : undefined;
    const targetsOutAt = o.groupsPerTerminated === 0 ? 0
      : o.targetPoll?.leftDrainingAtMs ?? logged.deregistrationDoneAtMs.get(a.instanceId);
    if (a.resultSource === 'complete' && a.completedAtMs !== undefined && podsGoneAt !== undefined && targetsOutAt !== undefined) {
      completionOverhead.push(a.completedAtMs - Math.max(podsGoneAt, targetsOutAt));
    }
    const end = a.completedAtMs ?? Date.now();
    const late = heartbeatLatenessSeconds(a.startedAtMs, [...a.heartbeatsAtMs], end, a.heartbeatTimeoutSeconds);
    if (lateness === null || late > lateness) worst = { instanceId: a.instanceId, points: [a.startedAtMs, ...[...a.heartbeatsAtMs].sort((x, y) => x - y), end] };
    lateness = Math.max(lateness ?? 0, late);
  }

  const awsBy = delta(counterSamples(o.metricsBefore, AWS_CALLS, ['service', 'operation']), counterSamples(o.metricsAfter, AWS_CALLS, ['service', 'operation']));
  const kubeBy = delta(counterSamples(o.metricsBefore, KUBE_CALLS, ['verb', 'resource']), counterSamples(o.metricsAfter, KUBE_CALLS, ['verb', 'resource']));
  const lists = listCounts(o.windowRequests);
  const lastCompletion = Math.max(...actions.map((a) => a.completedAtMs ?? 0));
  let overshoot: number | null = null;
  if (spec.measureOvershoot) {
    const instanceId = actions[0]?.instanceId ?? '';
    const serviceDoneAt = logged.targetGroupDoneAtMs.get(instanceId)?.get(o.overshootGroupName);
    const leftAt = o.targetPoll?.leftDrainingAtMs;
    if (serviceDoneAt !== undefined && leftAt !== undefined) overshoot = Math.round((serviceDoneAt - leftAt) / 10) / 100;
  }
  const report: ScenarioReport = {
    scenario: spec.name,
    events: spec.events,
    target_groups: o.targetGroupCount,
    pods_per_node: spec.podsPerNode,
    wall_s: Math.round((lastCompletion - o.startedAtMs) / 100) / 10,
    receipt_to_cordon_ms: percentiles(receiptToCordon),
    completion_overhead_ms: percentiles(completionOverhead),
    aws_calls_by_operation: awsBy,
    aws_calls_per_event: perEvent(sum(awsBy, (k) => k === HEARTBEAT_OPERATION), spec.events),
    kube_calls_by_verb_and_resource: Object.fromEntries(Object.entries(kubeBy).map(([k, v]) => [k.replace(':', ' '), v])),
    kube_calls_per_event: perEvent(sum(kubeBy), spec.events),
    kube_calls_per_event_without_evictions: perEvent(sum(kubeBy, (k) => k === 'create:pods/eviction'), spec.events),
    heartbeat_lateness_max_s: lateness === null ? null : Math.round(lateness * 100) / 100,
    rss_peak_mib: o.rss,
    rss_idle_mib: o.rssIdle,
    cpu_s: Math.round(o.cpu * 100) / 100,
    deregistration_overshoot_s: overshoot,
    results,
    target_groups_bound: o.bound,
    discovery_ms: { ...percentiles([...logged.discoveryMs.values()]), max: logged.discoveryMs.size > 0 ? Math.max(...logged.discoveryMs.values()) : null },
    elb_calls_per_minute_steady: o.steadyElbPerMinute,
    lb_index_build: o.indexBuild,
  };
  if (worst && (lateness ?? 0) > 0) {
    const at = worst.points.map((p) => `+${((p - worst!.points[0]!) / 1000).toFixed(1)}s`);
    note(`${spec.name}: latest heartbeat: ${worst.instanceId} — started, heartbeats at ${at.slice(1, -1).join(' ')}, ended ${at.at(-1)}; receipt ${received.has(worst.instanceId) ? `+${((received.get(worst.instanceId)! - worst.points[0]!) / 1000).toFixed(1)}s` : 'unknown'}`);
  }
  const queueLag = percentiles(actions.flatMap((a) => (received.has(a.instanceId) ? [received.get(a.instanceId)! - a.startedAtMs] : [])));
  note(`${spec.name}: from the emulator starting an action to the service receiving its message: p50 ${queueLag.p50} ms, p99 ${queueLag.p99} ms`);
  const unseen = actions.reduce((n, a) => n + a.unseenHeartbeats, 0);
  if (unseen > 0) note(`${spec.name}: ${unseen} heartbeat(s) fell between two polls; lateness is computed without them (it can only be overstated)`);
  note(`${spec.name}: per-event timings measured for ${receiptToCordon.length} (receipt→cordon) and ${completionOverhead.length} (completion overhead) of ${spec.events} events; pod LISTs by node ${lists.podsOnNodeLists}, all-pods ${lists.allPodsLists}; node LISTs ${lists.allNodesLists}, node watches ${lists.nodeWatches} in the window`);
  return {
    report,
    side: {
      allNodesListsPerEvent: perEvent(Math.max(0, lists.allNodesLists - lists.nodeWatches), spec.events),
      allPodsListsPerEvent: perEvent(lists.allPodsLists, spec.events),
    },
  };
}

/** NODE_OPTIONS as the Helm chart deploys the service (values.yaml heapSizeMiB and heapSemiSpaceMiB; the image uses the same). */
function shippedNodeOptions(repoRoot: string): string {
  const values = k8s.loadYaml<{ heapSizeMiB?: number; heapSemiSpaceMiB?: number }>(readFileSync(join(repoRoot, 'deploy', 'helm', 'lifecycle-manager', 'values.yaml'), 'utf8'));
  if (typeof values.heapSizeMiB !== 'number' || typeof values.heapSemiSpaceMiB !== 'number') throw new Error('deploy/helm/lifecycle-manager/values.yaml has no heapSizeMiB or heapSemiSpaceMiB');
  return `--max-old-space-size=${values.heapSizeMiB} --max-semi-space-size=${values.heapSemiSpaceMiB}`;
}
