/**
 * `npm run demo`: the whole flow on one machine, no AWS account. Starts a real kube-apiserver and the AWS
 * emulator, builds a sandbox (an Auto Scaling group of 3 instances with a termination hook to SQS, their Nodes
 * with pods, a Deployment behind a PodDisruptionBudget, an ALB target group and a classic ELB with the instances
 * registered; on the instance to go: a system-critical DNS pod, a StatefulSet pod with an EBS-style volume and a bare
 * debug pod), runs `lifecycle-manager serve` against it, terminates one instance through the Auto Scaling API,
 * streams the service's log and ends with a summary and the Node's Events as a timeline.
 */
import { testAwsClients } from '../harness/awsClients.js';
import { adminKubeConfig, eventually, startHarness } from '../harness/infra.js';
import { FakeKubelet } from '../harness/kubelet.js';
import { loadBalancerFixtures } from '../harness/loadBalancers.js';
import { startLifecycleManager, sumMetric } from '../harness/lifecycleManager.js';
import { motoAwsEnv } from '../harness/moto.js';
import { buildWorld } from '../harness/world.js';
import * as k8s from '@kubernetes/client-node';

const say = (line: string): void => { process.stdout.write(`${line}\n`); };

async function main(): Promise<number> {
  const started = Date.now();
  say('▶ starting the sandbox: kube-apiserver + etcd, AWS emulator (moto with lifecycle hooks)…');
  const harness = await startHarness();
  const kubelet = new FakeKubelet(adminKubeConfig(harness.info), { graceScale: 0.05 });
  let service: Awaited<ReturnType<typeof startLifecycleManager>> | undefined;
  try {
    await kubelet.start();
    const aws = testAwsClients(harness.info.motoEndpoint);
    const world = await buildWorld(aws, kubelet, { instances: 3, heartbeatTimeoutSeconds: 60, podsPerNode: 2 });
    const apps = adminKubeConfig(harness.info).makeApiClient(k8s.AppsV1Api);
    await apps.createNamespacedDeployment({ namespace: world.namespace, body: {
      metadata: { name: 'web' },
      spec: { replicas: 3, selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'web', image: 'nginx' }] } } },
    } });
    for (const [n, i] of world.instances.entries()) {
      await kubelet.createPod(world.namespace, { name: `web-${n}`, nodeName: i.nodeName, labels: { app: 'web' }, ownerKind: 'ReplicaSet', terminationGracePeriodSeconds: 20 });
    }
    await kubelet.createPdb(world.namespace, { name: 'web', matchLabels: { app: 'web' }, maxUnavailable: 1 });
    const victim = world.instances[0]!;
    // On the instance to go: DNS (evicted last), a database with its volume (detached before the instance goes) and a
    // pod someone started by hand (nothing will recreate it: the drain plan says so before evicting anything).
    await kubelet.createPod(world.namespace, { name: 'coredns-0', nodeName: victim.nodeName, ownerKind: 'ReplicaSet', priorityClassName: 'system-cluster-critical' });
    await kubelet.volumes.createVolume(world.namespace, 'data-db-0');
    kubelet.volumes.detachDelayMs = 4_000; // an EBS detach takes seconds
    await kubelet.createPod(world.namespace, { name: 'db-0', nodeName: victim.nodeName, ownerKind: 'StatefulSet', claims: ['data-db-0'], terminationGracePeriodSeconds: 20 });
    await kubelet.createPod(world.namespace, { name: 'debug-shell', nodeName: victim.nodeName });
    await eventually('the database volume to be attached', async () => (await kubelet.volumes.attachmentsOn(victim.nodeName)).length === 1, 20_000, 100);
    const timeline = await recordNodeEvents(adminKubeConfig(harness.info), victim.nodeName);
    // Load balancers registered by hand (as the AWS Load Balancer Controller would), with a short draining delay.
    const lbs = loadBalancerFixtures(aws);
    const targetGroupArn = await lbs.targetGroup(`demo-${world.id}`, { port: 80, deregistrationDelaySeconds: 3 });
    await lbs.register(targetGroupArn, world.instances.map((i) => ({ id: i.instanceId, port: 80 })));
    const classicName = `demo-${world.id}`;
    await lbs.classic(classicName);
    await lbs.registerClassic(classicName, world.instances.map((i) => i.instanceId));
    say(`▶ sandbox: Auto Scaling group ${world.autoScalingGroupName} (3 instances, hook "${world.lifecycleHookName}" → SQS ${world.queueName}), namespace ${world.namespace}, Deployment web behind PDB maxUnavailable=1`);
    say(`    target group demo-${world.id} (port 80, deregistration delay 3s) and classic ELB ${classicName}, all 3 instances registered`);
    say(`    on ${victim.instanceId}: system-critical coredns-0, StatefulSet pod db-0 with volume data-db-0, bare pod debug-shell`);
    for (const i of world.instances) say(`    ${i.instanceId}  node ${i.nodeName}`);

    say('▶ starting lifecycle-manager serve (log below, prefixed │)');
    service = await startLifecycleManager({
      repoRoot: harness.info.repoRoot, kubeconfigPath: harness.info.serviceKubeconfigPath, queueName: world.queueName,
      awsEnv: motoAwsEnv(harness.info.motoEndpoint), flags: ['--polling-interval', '1', '--drain-interval', '2'],
    });
    let shown = 0;
    const stream = setInterval(() => {
      const lines = service!.logs();
      for (; shown < lines.length; shown++) say(`│ ${lines[shown]}`);
    }, 100);

    const podsBefore = (await world.podsOn(victim.nodeName)).map((p) => `${p.metadata!.namespace}/${p.metadata!.name}`);
    say(`▶ terminating ${victim.instanceId} through the Auto Scaling API (TerminateInstanceInAutoScalingGroup)`);
    const terminatedAt = Date.now();
    await world.terminate(victim.instanceId);
    const record = await eventually('the lifecycle action to complete', async () => {
      const res = await fetch(`${harness.info.motoEndpoint}/_lifecycle/actions`);
      const actions = ((await res.json()) as { actions: Array<{ instanceId: string; result: string | null; heartbeats: number }> }).actions;
      const a = actions.find((x) => x.instanceId === victim.instanceId);
      return a?.result ? a : undefined;
    }, 120_000, 250);
    const elapsedSeconds = (Date.now() - terminatedAt) / 1000;
    await new Promise((r) => setTimeout(r, 300));
    clearInterval(stream);
    for (const line of service.logs().slice(shown)) say(`│ ${line}`);

    const metrics = await service.metricsText();
    const phase = (name: string): string => `${sumMetric(metrics, 'lifecycle_manager_phase_duration_seconds_sum', { phase: name }).toFixed(2)}s`;
    const nodeGone = !(await world.nodeExists(victim.nodeName));
    const stillInTargetGroup = (await lbs.health(targetGroupArn)).some((t) => t.id === victim.instanceId);
    const stillInClassic = (await lbs.classicInstances(classicName)).some((i) => i.instanceId === victim.instanceId && i.state === 'InService');
    const volumesLeft = (await kubelet.volumes.attachmentsOn(victim.nodeName)).length;
    const othersServing = (await lbs.health(targetGroupArn)).filter((t) => t.id !== victim.instanceId).length;
    say('');
    say('══ summary ══');
    say(`  instance            ${victim.instanceId} → lifecycle result ${record.result} after ${elapsedSeconds.toFixed(1)}s (${record.heartbeats} heartbeat(s))`);
    say(`  drained pods        ${podsBefore.join(', ')}`);
    say(`  node                ${victim.nodeName} ${nodeGone ? 'deleted' : 'STILL PRESENT'}`);
    say(`  load balancers      ${stillInTargetGroup ? 'STILL in' : 'deregistered from'} target group demo-${world.id} (after draining), ${stillInClassic ? 'STILL in' : 'deregistered from'} classic ELB ${classicName}; ${othersServing} other instances still registered`);
    say(`  phases              find node ${phase('await_node')}, deregister ${phase('deregister')}, drain ${phase('drain')}, delete node ${phase('delete_node')}, complete ${phase('complete')}`);
    say(`  drain tiers         non-critical ${phase('drain_tier_non_critical')}, then system-critical ${phase('drain_tier_critical')}; volumes detached in ${phase('await_volumes')}`);
    say(`  whole demo          ${((Date.now() - started) / 1000).toFixed(1)}s`);
    say('');
    say(`══ Events on node ${victim.nodeName}, as they arrived (seconds after the termination) ══`);
    for (const e of timeline.events) say(`  +${((e.atMs - terminatedAt) / 1000).toFixed(1).padStart(5)}s  ${e.type.padEnd(7)} ${e.reason.padEnd(26)} ${e.message}`);
    timeline.stop();
    if (record.result !== 'CONTINUE' || !nodeGone || stillInTargetGroup || stillInClassic || volumesLeft > 0) {
      say('✗ the termination did not complete gracefully');
      return 1;
    }
    say('✓ graceful termination: load balancers drained, pods evicted (system-critical last), volumes detached, node deleted, lifecycle action completed with CONTINUE');
    return 0;
  } finally {
    await service?.stop();
    kubelet.stop();
    await harness.stop();
  }
}

/** The Node's Events in the order the apiserver sent them (Events list by name, not by time). */
async function recordNodeEvents(kc: k8s.KubeConfig, nodeName: string): Promise<{ events: Array<{ atMs: number; type: string; reason: string; message: string }>; stop: () => void }> {
  const events: Array<{ atMs: number; type: string; reason: string; message: string }> = [];
  const controller = await new k8s.Watch(kc).watch('/api/v1/namespaces/default/events', { fieldSelector: `involvedObject.name=${nodeName}` }, (type, e: k8s.CoreV1Event) => {
    if (type === 'ADDED') events.push({ atMs: Date.now(), type: e.type ?? '', reason: e.reason ?? '', message: e.message ?? '' });
  }, () => undefined);
  return { events, stop: () => controller.abort() };
}

main().then((code) => process.exit(code), (e: unknown) => {
  process.stderr.write(`demo failed: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
