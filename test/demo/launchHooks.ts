/**
 * `node dist/test/demo/launchHooks.js` (after `npm run build`): launch hooks on one machine. Starts the sandbox
 * (kube-apiserver + etcd, the AWS emulator), enrolls a one-instance group with `enroll --launch-hook`, runs
 * `serve --launch-hooks --launch-timeout 15`, scales the group out by two: one new instance's kubelet registers its
 * Node Not Ready and turns Ready 5 s later, the other's Node never becomes Ready. Prints what the service logged,
 * what the Nodes' Events say and what AWS (the emulator) recorded for each launch.
 */
import { DescribeAutoScalingGroupsCommand } from '@aws-sdk/client-auto-scaling';
import { testAwsClients } from '../harness/awsClients.js';
import { runCli } from '../harness/cli.js';
import { adminKubeConfig, eventually, startHarness } from '../harness/infra.js';
import { FakeKubelet } from '../harness/kubelet.js';
import { joinNode, scaleOut } from '../harness/launches.js';
import { startLifecycleManager } from '../harness/lifecycleManager.js';
import { REGION, type LifecycleActionRecord, motoAwsEnv } from '../harness/moto.js';
import { buildWorld } from '../harness/world.js';

const say = (line: string): void => { process.stdout.write(`${line}\n`); };

async function main(): Promise<number> {
  const harness = await startHarness();
  const kubelet = new FakeKubelet(adminKubeConfig(harness.info));
  let service: Awaited<ReturnType<typeof startLifecycleManager>> | undefined;
  try {
    await kubelet.start();
    const aws = testAwsClients(harness.info.motoEndpoint);
    const world = await buildWorld(aws, kubelet, { instances: 1, heartbeatTimeoutSeconds: 30 });
    const enroll = ['enroll', '--region', REGION, '--queue-name', world.queueName, '--notification-role-name', `lm-notify-${world.id}`,
      '--target-scaling-groups', world.autoScalingGroupName, '--heartbeat-timeout', '30', '--launch-hook'];
    say(`$ lifecycle-manager ${enroll.join(' ')}`);
    const enrolled = await runCli(harness.info.repoRoot, enroll, motoAwsEnv(harness.info.motoEndpoint));
    for (const line of enrolled.stdout.trim().split('\n')) say(`  ${line}`);
    const flags = ['--polling-interval', '1', '--with-deregister=false', '--launch-hooks', '--launch-timeout', '15'];
    say(`$ lifecycle-manager serve --queue-name ${world.queueName} ${flags.join(' ')}`);
    service = await startLifecycleManager({
      repoRoot: harness.info.repoRoot, kubeconfigPath: harness.info.serviceKubeconfigPath, queueName: world.queueName,
      awsEnv: motoAwsEnv(harness.info.motoEndpoint), flags,
    });
    say(`$ aws autoscaling set-desired-capacity --auto-scaling-group-name ${world.autoScalingGroupName} --desired-capacity 3`);
    const [good, bad] = await scaleOut(aws, world, 2) as [NonNullable<Awaited<ReturnType<typeof scaleOut>>[number]>, NonNullable<Awaited<ReturnType<typeof scaleOut>>[number]>];
    say(`  launched ${good.instanceId} (its Node turns Ready after 5 s) and ${bad.instanceId} (its Node stays Not Ready): ${await world.lifecycleState(good.instanceId)}, ${await world.lifecycleState(bad.instanceId)}`);
    await joinNode(kubelet, good, 'False');
    await joinNode(kubelet, bad, 'False');
    await new Promise((r) => setTimeout(r, 5_000));
    await kubelet.setNodeReady(good.nodeName, 'True');
    const records = async (): Promise<LifecycleActionRecord[]> => ((await (await fetch(`${harness.info.motoEndpoint}/_lifecycle/actions`)).json()) as { actions: LifecycleActionRecord[] }).actions;
    const ended = await eventually('both launches to end', async () => {
      const mine = (await records()).filter((a) => a.instanceId === good.instanceId || a.instanceId === bad.instanceId);
      return mine.length === 2 && mine.every((a) => a.result !== null) ? mine : undefined;
    }, 60_000, 500);

    say('\n── service log (these instances) ──');
    for (const line of service.logs().filter((l) => l.includes(good.instanceId) || l.includes(bad.instanceId))) say(line);
    for (const i of [good, bad]) {
      say(`\n── Events on node ${i.nodeName} (${i.instanceId}) ──`);
      for (const e of await world.nodeEvents(i.nodeName)) say(`${e.type} ${e.reason}: ${e.message}`);
    }
    say('\n── AWS (emulator) lifecycle actions ──');
    for (const a of ended) say(JSON.stringify({ instanceId: a.instanceId, hook: a.lifecycleHookName, lifecycleState: a.lifecycleState, heartbeats: a.heartbeats, result: a.result, resultSource: a.resultSource, completeCalls: a.completeCalls, startedAt: a.startedAt, completedAt: a.completedAt }));
    const group = (await aws.autoScaling.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [world.autoScalingGroupName] }))).AutoScalingGroups![0]!;
    say(`group now: ${(group.Instances ?? []).map((i) => `${i.InstanceId} ${i.LifecycleState}`).join(', ')}`);
    const metrics = (await service.metricsText()).split('\n').filter((l) => l.startsWith('lifecycle_manager_launches_total'));
    say(`metrics: ${metrics.join('; ')}`);
    return 0;
  } finally {
    await service?.stop();
    kubelet.stop();
    await harness.stop();
  }
}

main().then((code) => process.exit(code), (e: unknown) => {
  process.stderr.write(`launch demo failed: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
