import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type FaultProxy, type FaultRule, startFaultProxy } from '../harness/faultProxy.js';
import { eventually } from '../harness/infra.js';
import type { LifecycleManagerProcess } from '../harness/lifecycleManager.js';
import { type Target, loadBalancerFixtures, otherVpc } from '../harness/loadBalancers.js';
import type { World, WorldInstance } from '../harness/world.js';
import { e2eFixture } from './fixture.js';

/**
 * With the default --deregister-order before-drain, a load balancer that fails, refuses, drains for an hour or has
 * its target re-added must not cost the drain: the deregister step is reported (LifecycleStepFailed Event, metric,
 * log), the pods are evicted anyway and the action completes CONTINUE. Before the termination became a table of
 * steps, any such failure ended the action with ABANDON before the first eviction.
 */
const f = e2eFixture();
const lb = loadBalancerFixtures(f.aws);
const proxies: FaultProxy[] = [];
const services: LifecycleManagerProcess[] = [];
beforeAll(() => f.start());
afterAll(() => f.stop());
afterEach(async () => {
  await Promise.allSettled(services.splice(0).map((s) => s.stop()));
  await Promise.allSettled(proxies.splice(0).map((p) => p.close()));
  await lb.cleanup();
});

/** As deregistration.test.ts: fast but realistic timings, load-balancer deregistration on, paced generously for moto. */
const FAST = ['--polling-interval', '1', '--drain-interval', '1', '--log-level', 'debug', '--with-deregister=true', '--lb-api-rate', '50'];
const STEP_FAILURES = 'lifecycle_manager_step_failures_total';

interface Case { readonly world: World; readonly victim: WorldInstance; readonly survivor: WorldInstance }

async function twoNodes(): Promise<Case> {
  const world = await f.world({ instances: 2, heartbeatTimeoutSeconds: 30, podsPerNode: 1 });
  return { world, victim: world.instances[0]!, survivor: world.instances[1]! };
}

/**
 * The service, through a fault proxy when there are rules: set once it is up (its startup checks are not under test),
 * or from the start for load-balancer reads, which the service's region index makes as soon as it starts.
 */
async function serve(world: World, flags: readonly string[], rules?: readonly FaultRule[], options: { fromStart?: boolean } = {}): Promise<{ lm: LifecycleManagerProcess; proxy?: FaultProxy }> {
  const proxy = rules ? await startFaultProxy(f.info.motoEndpoint, options.fromStart ? rules : []) : undefined;
  if (proxy) proxies.push(proxy);
  const lm = await f.serve(world, [...FAST, ...flags], proxy ? { env: { AWS_ENDPOINT_URL: proxy.endpoint } } : {});
  services.push(lm);
  if (proxy && rules && !options.fromStart) proxy.setRules(rules);
  return { lm, ...(proxy ? { proxy } : {}) };
}

const on = (id: string, port = 80): Target => ({ id, port });
const states = async (arn: string, targets: readonly Target[]): Promise<string[]> => (await lb.health(arn, targets)).map((t) => `${t.id}:${t.port} ${t.state}`);
const messages = async (c: Case, reason: string): Promise<string[]> =>
  (await c.world.nodeEvents(c.victim.nodeName)).filter((e) => e.reason === reason).map((e) => e.message ?? '');
const ec2Calls = (lm: LifecycleManagerProcess): Promise<number> => lm.metric('lifecycle_manager_aws_api_calls_total', { service: 'ec2', operation: 'DescribeInstances' });

/**
 * What a user checks after the termination: the hook completed CONTINUE exactly once by the service (not expired),
 * the victim's pods were evicted before the instance was released, the other node of the group was not touched.
 */
async function terminatedGracefully(c: Case, lm: LifecycleManagerProcess): Promise<void> {
  const action = await eventually('the lifecycle action to end', async () => (await f.actions(c.victim.instanceId)).find((a) => a.result !== null), 90_000, 250);
  expect({ result: action.result, source: action.resultSource, completes: action.completeCalls }).toEqual({ result: 'CONTINUE', source: 'complete', completes: 1 });
  expect((await c.world.podsOn(c.victim.nodeName)).map((p) => p.metadata?.name)).toEqual([]);
  const lines = lm.logs();
  const drained = lines.findIndex((l) => l.includes(`${c.victim.instanceId}> completed drain for node/${c.victim.nodeName}`));
  const released = lines.findIndex((l) => l.includes(`${c.victim.instanceId}> setting lifecycle event as completed with result: CONTINUE`));
  expect(drained, 'the drain completed').toBeGreaterThan(-1);
  expect(released, 'the action was completed after the drain').toBeGreaterThan(drained);
  expect((await f.kubelet.core.readNode({ name: c.survivor.nodeName })).spec?.unschedulable ?? false).toBe(false);
  expect((await c.world.podsOn(c.survivor.nodeName)).length).toBe(1);
}

/** The deregister step, and only it, was recorded as failed with `failureClass` (Event, metric), its cause matching. */
async function deregisterDegraded(c: Case, lm: LifecycleManagerProcess, failureClass: string, cause: RegExp): Promise<string> {
  const [message, ...more] = await eventually('the LifecycleStepFailed Event', async () => {
    const found = await messages(c, 'LifecycleStepFailed');
    return found.length > 0 ? found : undefined;
  }, 30_000);
  expect(more).toEqual([]);
  expect(message).toMatch(new RegExp(`^step deregister failed \\(${failureClass}\\): load balancer deregistration incomplete: `, 'u'));
  expect(message).toMatch(/; continuing with the next step; the node is still drained before the instance is released$/u);
  expect(message).toMatch(cause);
  expect(await lm.metric(STEP_FAILURES, { step: 'deregister', class: failureClass, policy: 'degrade-and-continue' })).toBe(1);
  expect(await lm.metric(STEP_FAILURES)).toBe(1);
  expect(lm.countLogs(new RegExp(`level=warning msg="${c.victim.instanceId}> step deregister failed \\(${failureClass}\\)`, 'u'))).toBe(1);
  return message!;
}

describe('load-balancer failures never cost the drain (--deregister-order before-drain)', () => {
  it('an hour-long deregistration delay with --deregistration-timeout 5: the target is left draining, the step is reported as timed out, the pods are evicted, CONTINUE', async () => {
    const c = await twoNodes();
    // AWS's maximum is 3600; moto 5.2.1 refuses 3600 itself (it checks `in range(0, 3600)`), so one second less.
    const slow = await lb.targetGroup(`slow-${c.world.id}`, { deregistrationDelaySeconds: 3599 });
    await lb.register(slow, [on(c.victim.instanceId), on(c.survivor.instanceId)]);
    const { lm } = await serve(c.world, ['--deregistration-timeout', '5']);

    await c.world.terminate(c.victim.instanceId);
    // Draining while the action is still open: the service deregistered it (AWS drains it only once the instance terminates).
    await eventually('the target to be draining before the action ends', async () =>
      (await states(slow, [on(c.victim.instanceId)]))[0]?.endsWith(' draining') && (await f.actions(c.victim.instanceId))[0]?.result === null, 60_000, 100);
    await terminatedGracefully(c, lm);

    expect(await states(slow, [on(c.victim.instanceId), on(c.survivor.instanceId)])).toEqual([`${c.victim.instanceId}:80 draining`, `${c.survivor.instanceId}:80 healthy`]);
    await deregisterDegraded(c, lm, 'timeout', new RegExp(`target group slow-${c.world.id}: still draining after \\d+s, when the time for load balancers ran out`, 'u'));
    expect(await messages(c, 'TargetDeregisterFailed')).toEqual([expect.stringMatching(new RegExp(
      `^target ${c.victim.instanceId}:80 has failed to deregister from target group slow-${c.world.id}: still draining after \\d+s`, 'u'))]);
    expect(await lm.metric('lifecycle_manager_failed_lb_deregister_total')).toBe(1);
    // Only instance target groups in the region: the instance's VPC is never asked for.
    expect(await ec2Calls(lm)).toBe(0);
  });

  it('DeregisterTargets refused (AccessDenied) in one target group: that group is reported, the other one is left, the pods are evicted, CONTINUE', async () => {
    const c = await twoNodes();
    const denied = await lb.targetGroup(`denied-${c.world.id}`, { deregistrationDelaySeconds: 2 });
    const fine = await lb.targetGroup(`fine-${c.world.id}`, { deregistrationDelaySeconds: 2 });
    for (const arn of [denied, fine]) await lb.register(arn, [on(c.victim.instanceId), on(c.survivor.instanceId)]);
    const { lm, proxy } = await serve(c.world, [], [{ service: 'elasticloadbalancing', operation: 'DeregisterTargets', bodyIncludes: denied, fault: 'access-denied' }]);

    await c.world.terminate(c.victim.instanceId);
    await terminatedGracefully(c, lm);

    expect(proxy!.injected.get('elasticloadbalancing:DeregisterTargets:access-denied')).toBeGreaterThanOrEqual(1);
    // Left before the release (logged before the completion, and not draining any more right after it).
    const lines = lm.logs();
    const left = lines.findIndex((l) => l.includes(`deregistered ${c.victim.instanceId}:80 from target group fine-${c.world.id} after`));
    expect(left).toBeGreaterThan(-1);
    expect(lines.findIndex((l) => l.includes('setting lifecycle event as completed'))).toBeGreaterThan(left);
    expect(await states(fine, [on(c.victim.instanceId), on(c.survivor.instanceId)])).toEqual([`${c.victim.instanceId}:80 unused`, `${c.survivor.instanceId}:80 healthy`]);
    expect((await lb.health(denied, [on(c.survivor.instanceId)]))[0]?.state).toBe('healthy');
    await deregisterDegraded(c, lm, 'forbidden', new RegExp(`target group denied-${c.world.id}: .*not authorized to perform: elasticloadbalancing:DeregisterTargets`, 'u'));
    expect(await messages(c, 'TargetDeregisterFailed')).toEqual([expect.stringMatching(new RegExp(`^target ${c.victim.instanceId}:80 has failed to deregister from target group denied-${c.world.id}: .*AccessDenied`, 'u'))]);
    expect(await messages(c, 'TargetDeregisterSucceeded')).toEqual([`target ${c.victim.instanceId}:80 has successfully deregistered from target group fine-${c.world.id}`]);
    expect({ failed: await lm.metric('lifecycle_manager_failed_lb_deregister_total'), ok: await lm.metric('lifecycle_manager_successful_lb_deregister_total') }).toEqual({ failed: 1, ok: 1 });
    expect(await ec2Calls(lm)).toBe(0);
  });

  it.each([
    { fault: 'validation' as const, failureClass: 'permanent', flags: [], cause: 'injected: this target group cannot be described' },
    // A group that keeps answering 5xx is given up after its own bound, not after the scan's: it must not hold the others.
    { fault: 'server-error' as const, failureClass: 'timeout', flags: ['--deregistration-timeout', '40'], cause: 'no answer within 15s \\(DescribeTargetHealth failed \\d+ times?, last: .*ServiceUnavailable' },
  ])('one target group\'s DescribeTargetHealth failing for good ($fault) from the start: the other group is still left, the failing one is reported on its own, CONTINUE', async ({ fault, failureClass, flags, cause }) => {
    const c = await twoNodes();
    const broken = await lb.targetGroup(`broken-${c.world.id}`, { deregistrationDelaySeconds: 2 });
    const fine = await lb.targetGroup(`fine-${c.world.id}`, { deregistrationDelaySeconds: 2 });
    for (const arn of [broken, fine]) await lb.register(arn, [on(c.victim.instanceId), on(c.survivor.instanceId)]);
    const { lm, proxy } = await serve(c.world, flags, [{
      service: 'elasticloadbalancing', operation: 'DescribeTargetHealth', bodyIncludes: broken, fault, ...(fault === 'validation' ? { message: 'injected: this target group cannot be described' } : {}),
    }], { fromStart: true });

    await c.world.terminate(c.victim.instanceId);
    await terminatedGracefully(c, lm);

    expect(proxy!.injected.get(`elasticloadbalancing:DescribeTargetHealth:${fault}`)).toBeGreaterThanOrEqual(1);
    expect(await states(fine, [on(c.victim.instanceId), on(c.survivor.instanceId)])).toEqual([`${c.victim.instanceId}:80 unused`, `${c.survivor.instanceId}:80 healthy`]);
    expect((await lb.health(broken, [on(c.survivor.instanceId)]))[0]?.state).toBe('healthy');
    const message = await deregisterDegraded(c, lm, failureClass, new RegExp(`could not check target group broken-${c.world.id}: .*${cause}`, 'u'));
    expect(message).not.toContain(`fine-${c.world.id}`);
    expect(await messages(c, 'TargetDeregisterSucceeded')).toEqual([`target ${c.victim.instanceId}:80 has successfully deregistered from target group fine-${c.world.id}`]);
    expect(await lm.metric('lifecycle_manager_successful_lb_deregister_total')).toBe(1);
  });

  it('a target re-registered by a controller while it drains: after the re-registration limit the group is reported and the node drained anyway, CONTINUE', async () => {
    const c = await twoNodes();
    const contested = await lb.targetGroup(`contested-${c.world.id}`, { deregistrationDelaySeconds: 2 });
    await lb.register(contested, [on(c.victim.instanceId), on(c.survivor.instanceId)]);
    // The wait is long enough that only the re-registration limit can end it.
    const { lm } = await serve(c.world, ['--deregistration-timeout', '90']);

    await c.world.terminate(c.victim.instanceId);
    // "A controller": puts the target back every 300 ms until the service gives up on the group.
    let controlling = true;
    const controller = (async () => {
      while (controlling) {
        await lb.register(contested, [on(c.victim.instanceId)]).catch(() => undefined);
        await new Promise((r) => setTimeout(r, 300));
      }
    })();
    try {
      await lm.waitForLog(new RegExp(`targets ${c.victim.instanceId}:80 are registered again in target group contested-${c.world.id}`, 'u'), 60_000);
      await lm.waitForLog(new RegExp(`failed to deregister from target group contested-${c.world.id}`, 'u'), 90_000);
    } finally {
      controlling = false;
      await controller;
    }
    await terminatedGracefully(c, lm);

    const [failed, ...others] = await messages(c, 'TargetDeregisterFailed');
    expect(others).toEqual([]);
    const limit = new RegExp(`^target ${c.victim.instanceId}:80 has failed to deregister from target group contested-${c.world.id}: targets ${c.victim.instanceId}:80 were registered again in target group contested-${c.world.id} (\\d+) times while waiting for them to drain$`, 'u').exec(failed ?? '');
    expect(limit, failed).not.toBeNull();
    // Deregistered again each time it came back, up to the limit.
    expect(lm.countLogs(new RegExp(`level=warning .*targets ${c.victim.instanceId}:80 are registered again in target group contested-${c.world.id}; deregistering them again`, 'u'))).toBe(Number(limit![1]));
    await deregisterDegraded(c, lm, 'permanent', new RegExp(`target group contested-${c.world.id}: targets .* were registered again`, 'u'));
    expect((await lb.health(contested, [on(c.survivor.instanceId)]))[0]?.state).toBe('healthy');
    expect(await ec2Calls(lm)).toBe(0);
  });

  it('the region index never getting an answer (every DescribeTargetHealth hangs): the step is reported as timed out, each group gives up after its own bound with the failing call and its count logged, CONTINUE', async () => {
    const c = await twoNodes();
    const unseen = await lb.targetGroup(`unseen-${c.world.id}`, { deregistrationDelaySeconds: 2 });
    await lb.register(unseen, [on(c.victim.instanceId), on(c.survivor.instanceId)]);
    const { lm, proxy } = await serve(c.world, ['--api-timeout', '2', '--deregistration-timeout', '6'],
      [{ service: 'elasticloadbalancing', operation: 'DescribeTargetHealth', fault: 'hang' }], { fromStart: true });

    await c.world.terminate(c.victim.instanceId);
    await terminatedGracefully(c, lm);

    expect(proxy!.injected.get('elasticloadbalancing:DescribeTargetHealth:hang')).toBeGreaterThanOrEqual(1);
    await deregisterDegraded(c, lm, 'timeout', /finding load balancers: /u);
    // Not retried silently: the index goes on in the background, gives up on each group after its own bound, and
    // says which call failed, how often and how.
    await lm.waitForLog(new RegExp(`level=warning msg="could not read target group unseen-${c.world.id} within 15s \\(DescribeTargetHealth (failed \\d+ times?, last: .*[Tt]ime.*|never answered)\\)`, 'u'), 90_000);
    expect((await lb.health(unseen, [on(c.survivor.instanceId)]))[0]?.state).toBe('healthy');
  });

  it('a persistent 503 from DescribeTrafficSources: the operation is logged with its count, the scan still finds and leaves the target group, CONTINUE', async () => {
    const c = await twoNodes();
    const byHand = await lb.targetGroup(`hand-${c.world.id}`, { deregistrationDelaySeconds: 2 });
    await lb.register(byHand, [on(c.victim.instanceId), on(c.survivor.instanceId)]);
    const { lm, proxy } = await serve(c.world, ['--api-timeout', '2', '--deregistration-timeout', '6'],
      [{ service: 'autoscaling', operation: 'DescribeTrafficSources', fault: 'server-error' }]);

    await c.world.terminate(c.victim.instanceId);
    await terminatedGracefully(c, lm);

    expect(proxy!.injected.get('autoscaling:DescribeTrafficSources:server-error')).toBeGreaterThanOrEqual(1);
    await lm.waitForLog(/level=warning msg="DescribeTrafficSources has failed 3 times in a row \(.*ServiceUnavailable.*\); still retrying"/u, 60_000);
    await deregisterDegraded(c, lm, 'timeout', /finding load balancers: /u);
    expect(await states(byHand, [on(c.victim.instanceId), on(c.survivor.instanceId)])).toEqual([`${c.victim.instanceId}:80 unused`, `${c.survivor.instanceId}:80 healthy`]);
    expect(await messages(c, 'TargetDeregisterSucceeded')).toEqual([`target ${c.victim.instanceId}:80 has successfully deregistered from target group hand-${c.world.id}`]);
  });

  it('two clusters with overlapping pod CIDRs: the pod IP leaves the ip target group of the instance\'s VPC only; the other VPC\'s targets stay healthy', async () => {
    const c = await twoNodes();
    const podIp = (await c.world.podsOn(c.victim.nodeName))[0]!.status!.podIP!;
    const survivorPodIp = (await c.world.podsOn(c.survivor.nodeName))[0]!.status!.podIP!;
    const theirPod = '10.0.200.7'; // another cluster's pod: never an address of this cluster
    const mine = await lb.targetGroup(`mine-${c.world.id}`, { targetType: 'ip', port: 8080, deregistrationDelaySeconds: 2 });
    const theirs = await lb.targetGroup(`theirs-${c.world.id}`, { targetType: 'ip', port: 8080, deregistrationDelaySeconds: 2, vpcId: await otherVpc(f.aws) });
    await lb.register(mine, [on(podIp, 8080), on(survivorPodIp, 8080)]);
    await lb.register(theirs, [on(podIp, 8080), on(theirPod, 8080)]);
    const { lm } = await serve(c.world, []);

    await c.world.terminate(c.victim.instanceId);
    await terminatedGracefully(c, lm);

    expect(await states(mine, [on(podIp, 8080), on(survivorPodIp, 8080)])).toEqual([`${podIp}:8080 unused`, `${survivorPodIp}:8080 healthy`]);
    expect(await states(theirs, [on(podIp, 8080), on(theirPod, 8080)])).toEqual([`${podIp}:8080 healthy`, `${theirPod}:8080 healthy`]);
    expect(await messages(c, 'TargetDeregisterSucceeded')).toEqual([`target ${podIp}:8080 has successfully deregistered from target group mine-${c.world.id}`]);
    expect(lm.countLogs(new RegExp(`theirs-${c.world.id}`, 'u'))).toBe(0);
    expect(await lm.metric(STEP_FAILURES)).toBe(0);
    // The VPC was asked for, since an ip target group holds one of the instance's addresses (tests above: never otherwise).
    expect(await ec2Calls(lm)).toBeGreaterThanOrEqual(1);
  });
});
