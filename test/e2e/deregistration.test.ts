import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../harness/infra.js';
import type { LifecycleManagerProcess } from '../harness/lifecycleManager.js';
import { type Target, loadBalancerFixtures } from '../harness/loadBalancers.js';
import type { World } from '../harness/world.js';
import { e2eFixture } from './fixture.js';

const f = e2eFixture();
const lb = loadBalancerFixtures(f.aws);
beforeAll(() => f.start());
afterAll(() => f.stop());
afterEach(() => lb.cleanup());

/** Fast but realistic timings (flags, never sleeps); load-balancer deregistration on, paced generously for moto. */
const FAST = ['--polling-interval', '1', '--drain-interval', '1', '--log-level', 'debug', '--with-deregister=true', '--lb-api-rate', '50'];

async function results(instanceIds: readonly string[], timeoutMs: number): Promise<Map<string, string>> {
  return eventually(`${instanceIds.length} lifecycle actions to complete`, async () => {
    const done = new Map((await f.actions()).filter((a) => instanceIds.includes(a.instanceId) && a.result).map((a) => [a.instanceId, a.result!]));
    return done.size === instanceIds.length ? done : undefined;
  }, timeoutMs, 250);
}

async function elbCalls(lm: LifecycleManagerProcess, operation?: string): Promise<number> {
  const labels = operation ? { operation } : {};
  return (await lm.metric('lifecycle_manager_aws_api_calls_total', { service: 'elasticloadbalancingv2', ...labels }))
    + (await lm.metric('lifecycle_manager_aws_api_calls_total', { service: 'elasticloadbalancing', ...labels }));
}

/** Records every state the targets go through (polled from the test), until stopped. */
function watch(arn: string, targets: readonly Target[]): { seen: Set<string>; stop: () => Promise<void> } {
  const seen = new Set<string>();
  let running = true;
  const loop = (async () => {
    while (running) {
      for (const t of await lb.health(arn, targets).catch(() => [])) seen.add(t.state);
      await new Promise((r) => setTimeout(r, 150));
    }
  })();
  return { seen, stop: async () => { running = false; await loop; } };
}

const reasonsOn = async (world: World, nodeName: string): Promise<string[]> => (await world.nodeEvents(nodeName)).map((e) => `${e.reason}: ${e.message}`).sort();

describe('load-balancer deregistration', () => {
  it('deregisters every port of the instance in a target group, a second target group and a classic ELB, waits through draining, then completes CONTINUE', async () => {
    const world = await f.world({ instances: 2, heartbeatTimeoutSeconds: 30, podsPerNode: 1 });
    const [victim, survivor] = world.instances;
    const multi = await lb.targetGroup(`multi-${world.id}`, { deregistrationDelaySeconds: 2 });
    const second = await lb.targetGroup(`second-${world.id}`, { port: 443, deregistrationDelaySeconds: 2 });
    const classic = await lb.classic(`clb-${world.id}`);
    const mine = { multi: [{ id: victim!.instanceId, port: 80 }, { id: victim!.instanceId, port: 8080 }], second: [{ id: victim!.instanceId, port: 443 }] };
    await lb.register(multi, [...mine.multi, { id: survivor!.instanceId, port: 80 }]);
    await lb.register(second, [...mine.second, { id: survivor!.instanceId, port: 443 }]);
    await lb.registerClassic(classic, [victim!.instanceId, survivor!.instanceId]);
    const lm = await f.serve(world, FAST);
    const watching = [watch(multi, mine.multi), watch(second, mine.second)];

    await world.terminate(victim!.instanceId);
    const outcome = await results([victim!.instanceId], 60_000);
    // Right after CONTINUE: the instance has left everything (not merely started draining) …
    const after = [...await lb.health(multi, mine.multi), ...await lb.health(second, mine.second)];
    await Promise.all(watching.map((w) => w.stop()));

    expect(outcome.get(victim!.instanceId)).toBe('CONTINUE');
    expect(after.map((t) => `${t.port} ${t.state}`)).toEqual(['80 unused', '8080 unused', '443 unused']);
    // … and it got there through `draining`: connections were given the group's deregistration delay.
    for (const w of watching) expect([...w.seen]).toContain('draining');
    expect((await lb.classicInstances(classic)).map((i) => i.instanceId)).toEqual([survivor!.instanceId]);
    expect((await lb.health(multi)).map((t) => `${t.id}:${t.port} ${t.state}`)).toEqual([`${survivor!.instanceId}:80 healthy`]);
    expect((await lb.health(second)).map((t) => `${t.id}:${t.port} ${t.state}`)).toEqual([`${survivor!.instanceId}:443 healthy`]);

    expect(await reasonsOn(world, victim!.nodeName)).toEqual(expect.arrayContaining([
      `InstanceDeregisterSucceeded: instance ${victim!.instanceId} has successfully deregistered from classic-elb ${classic}`,
    ]));
    // The two target groups make one Event of that reason counting both, each group's sentence kept.
    const left = (await world.nodeEvents(victim!.nodeName)).filter((e) => e.reason === 'TargetDeregisterSucceeded');
    expect(left.map((e) => [e.count, e.message])).toEqual([[2,
      `target ${victim!.instanceId}:443 has successfully deregistered from target group second-${world.id}; `
      + `target ${victim!.instanceId}:80,${victim!.instanceId}:8080 has successfully deregistered from target group multi-${world.id}`]]);
    expect(await lm.metric('lifecycle_manager_successful_lb_deregister_total')).toBe(3);
    expect(await lm.metric('lifecycle_manager_failed_lb_deregister_total')).toBe(0);
    expect(await lm.metric('lifecycle_manager_deregistering_instances_count')).toBe(0);
    expect(await lm.metric('lifecycle_manager_lb_deregistration_wait_seconds_count', { type: 'target-group' })).toBe(2);
    // The default order: out of the load balancers before the first pod is evicted.
    const lines = lm.logs();
    const lastDeregistered = lines.findLastIndex((l) => /deregistered .* from (target group|classic load balancer)/u.test(l));
    const drainStarted = lines.findIndex((l) => l.includes(`draining node/${victim!.nodeName}`));
    expect(lastDeregistered).toBeGreaterThan(-1);
    expect(drainStarted).toBeGreaterThan(lastDeregistered);
  });

  it('deregisters the node\'s pod IP and private IP from an ip target group, leaving other nodes\' pods', async () => {
    const world = await f.world({ instances: 2, heartbeatTimeoutSeconds: 30, podsPerNode: 1 });
    const [victim, survivor] = world.instances;
    const podIp = (await world.podsOn(victim!.nodeName))[0]!.status!.podIP!;
    const otherPodIp = (await world.podsOn(survivor!.nodeName))[0]!.status!.podIP!;
    const pods = await lb.targetGroup(`pods-${world.id}`, { targetType: 'ip', port: 8080, deregistrationDelaySeconds: 1 });
    await lb.register(pods, [{ id: podIp, port: 8080 }, { id: victim!.privateIp, port: 9100 }, { id: otherPodIp, port: 8080 }]);
    const lm = await f.serve(world, FAST);

    await world.terminate(victim!.instanceId);
    expect((await results([victim!.instanceId], 60_000)).get(victim!.instanceId)).toBe('CONTINUE');

    expect((await lb.health(pods)).map((t) => `${t.id}:${t.port} ${t.state}`)).toEqual([`${otherPodIp}:8080 healthy`]);
    const targets = [`${podIp}:8080`, `${victim!.privateIp}:9100`].sort().join(',');
    expect(await reasonsOn(world, victim!.nodeName)).toContain(
      `TargetDeregisterSucceeded: target ${targets} has successfully deregistered from target group pods-${world.id}`);
    expect(await lm.metric('lifecycle_manager_successful_lb_deregister_total')).toBe(1);
  });

  it('skips a target group deleted mid-flow with a warning and still completes CONTINUE', async () => {
    const world = await f.world({ instances: 1, heartbeatTimeoutSeconds: 30 });
    const [victim] = world.instances;
    const doomed = await lb.targetGroup(`doomed-${world.id}`, { deregistrationDelaySeconds: 6 });
    const kept = await lb.targetGroup(`kept-${world.id}`, { deregistrationDelaySeconds: 1 });
    await lb.register(doomed, [{ id: victim!.instanceId, port: 80 }]);
    await lb.register(kept, [{ id: victim!.instanceId, port: 80 }]);
    const lm = await f.serve(world, FAST);

    await world.terminate(victim!.instanceId);
    await eventually('the target to be draining', async () => (await lb.health(doomed, [{ id: victim!.instanceId, port: 80 }]))[0]?.state === 'draining', 30_000, 100);
    await lb.deleteTargetGroup(doomed); // while lifecycle-manager waits out its 6 s deregistration delay

    expect((await results([victim!.instanceId], 60_000)).get(victim!.instanceId)).toBe('CONTINUE');
    expect(lm.countLogs(new RegExp(`level=warning .*target group doomed-${world.id} no longer exists; skipping it`, 'u'))).toBe(1);
    expect((await lb.health(kept, [{ id: victim!.instanceId, port: 80 }]))[0]?.state).toBe('unused');
    expect(await lm.metric('lifecycle_manager_failed_lb_deregister_total')).toBe(0);
    expect(await lm.metric('lifecycle_manager_successful_lb_deregister_total')).toBe(1);
  });

  it('with --lb-discovery targeted finds the Auto Scaling group\'s attached target group without scanning the region', async () => {
    // AWS (the emulator too) drains an attached group's target itself at Terminating:Wait; the delay is long enough
    // that a loaded machine's service still finds it draining, to wait it out and report it.
    const attached = await lb.targetGroup(`att-${Date.now().toString(36)}`, { deregistrationDelaySeconds: 6 });
    const world = await f.world({ instances: 2, heartbeatTimeoutSeconds: 30, targetGroupArns: [attached] });
    const [victim, survivor] = world.instances;
    const byHand = await lb.targetGroup(`hand-${world.id}`, { deregistrationDelaySeconds: 1 });
    await lb.register(byHand, [{ id: victim!.instanceId, port: 80 }]);
    const lm = await f.serve(world, [...FAST, '--lb-discovery', 'targeted']);
    const watching = watch(attached, [{ id: victim!.instanceId, port: 80 }]);

    await world.terminate(victim!.instanceId);
    expect((await results([victim!.instanceId], 60_000)).get(victim!.instanceId)).toBe('CONTINUE');
    const after = await lb.health(attached, [{ id: victim!.instanceId, port: 80 }]);
    await watching.stop();

    expect(after[0]?.state).toBe('unused');
    expect([...watching.seen]).toContain('draining');
    expect((await lb.health(attached)).map((t) => t.id)).toEqual([survivor!.instanceId]);
    expect(await lm.metric('lifecycle_manager_aws_api_calls_total', { operation: 'DescribeTrafficSources' })).toBe(1);
    expect(await elbCalls(lm, 'DescribeTargetGroups')).toBe(0);
    // The trade-off of targeted discovery: a registration made outside the group is not seen (the emulator drains
    // it only when the instance terminates, after CONTINUE, as AWS does).
    expect(lm.countLogs(new RegExp(`hand-${world.id}`, 'u'))).toBe(0);
    expect((await reasonsOn(world, victim!.nodeName)).filter((r) => r.includes(`hand-${world.id}`))).toEqual([]);
    expect(await reasonsOn(world, victim!.nodeName)).toContain(
      `TargetDeregisterSucceeded: target ${victim!.instanceId}:80 has successfully deregistered from target group ${attached.split('/')[1]}`);
  });

  it('merges the DeregisterTargets calls of 20 concurrent terminations that share target groups', async () => {
    const n = 20;
    const world = await f.world({ instances: n, heartbeatTimeoutSeconds: 60 });
    const shared = await lb.targetGroup(`shared-${world.id}`, { deregistrationDelaySeconds: 2 });
    const twoPorts = await lb.targetGroup(`ports-${world.id}`, { deregistrationDelaySeconds: 2 });
    await lb.register(shared, world.instances.map((i) => ({ id: i.instanceId, port: 80 })));
    await lb.register(twoPorts, world.instances.flatMap((i) => [{ id: i.instanceId, port: 80 }, { id: i.instanceId, port: 8080 }]));
    const lm = await f.serve(world, FAST);

    await Promise.all(world.instances.map((i) => world.terminate(i.instanceId)));
    const outcome = await results(world.instances.map((i) => i.instanceId), 120_000);

    expect([...outcome.values()].every((r) => r === 'CONTINUE')).toBe(true);
    expect(await lb.health(shared)).toEqual([]);
    expect(await lb.health(twoPorts)).toEqual([]);
    const deregisterCalls = await elbCalls(lm, 'DeregisterTargets');
    const healthCalls = await elbCalls(lm, 'DescribeTargetHealth');
    process.stderr.write(`20 concurrent terminations, 2 shared target groups: ${deregisterCalls} DeregisterTargets, ${healthCalls} DescribeTargetHealth, ${await elbCalls(lm)} ELB calls in all\n`);
    // Unmerged this would be 2 per termination (40); merged within the window it is a handful.
    expect(deregisterCalls).toBeGreaterThanOrEqual(2);
    expect(deregisterCalls).toBeLessThanOrEqual(8);
    expect(await lm.metric('lifecycle_manager_successful_lb_deregister_total')).toBe(2 * n);
  });

  it('stays within 10 Elastic Load Balancing calls per terminated instance with 200 target groups in the region, 2 holding each instance', async () => {
    const n = Number(process.env['LM_BUDGET_TERMINATIONS'] ?? 100);
    const groupCount = 200;
    const world = await f.world({ instances: n, heartbeatTimeoutSeconds: 120 });
    const before = await lb.targetGroupCount();
    const groups: string[] = [];
    for (let g = 0; g < groupCount - before; g++) groups.push(await lb.targetGroup(`b${g}-${world.id}`, { deregistrationDelaySeconds: 1 }));
    expect(await lb.targetGroupCount()).toBe(groupCount);
    // Instance k is in groups 2k and 2k+1 (wrapping): 2 per instance, as few shared as the region allows.
    const holding = (k: number): string[] => [groups[(2 * k) % groups.length]!, groups[(2 * k + 1) % groups.length]!];
    for (const [k, instance] of world.instances.entries()) for (const arn of holding(k)) await lb.register(arn, [{ id: instance.instanceId, port: 80 }]);
    // The call count does not depend on the pace; LM_BUDGET_LB_API_RATE=5 measures at the default (a 40 s scan).
    const lm = await f.serve(world, [...FAST, '--lb-api-rate', process.env['LM_BUDGET_LB_API_RATE'] ?? '100', '--max-drain-concurrency', '100']);

    await Promise.all(world.instances.map((i) => world.terminate(i.instanceId)));
    const outcome = await results(world.instances.map((i) => i.instanceId), 150_000);

    expect([...outcome.values()].filter((r) => r !== 'CONTINUE')).toEqual([]);
    for (const [k, instance] of world.instances.entries()) {
      for (const arn of holding(k)) expect((await lb.health(arn, [{ id: instance.instanceId, port: 80 }]))[0]?.state).toBe('unused');
    }
    const total = await elbCalls(lm);
    const byOperation = Object.fromEntries(await Promise.all(['DescribeTargetGroups', 'DescribeTargetHealth', 'DeregisterTargets', 'DescribeTargetGroupAttributes', 'DescribeLoadBalancers']
      .map(async (op) => [op, await elbCalls(lm, op)] as const)));
    process.stderr.write(`budget: ${n} concurrent terminations, ${groupCount} target groups: ${total} ELB calls = ${(total / n).toFixed(2)} per instance ${JSON.stringify(byOperation)}\n`);
    expect(total / n).toBeLessThanOrEqual(10);
  });
});
