import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { live, run, world } from '../../test/unit/loadBalancingWorld.js';

/** Discovery that knows the cluster: TargetGroupBindings ∪ the Auto Scaling group's attachments, then the index. */
describe('cluster-aware discovery', () => {
  beforeEach(() => vi.useFakeTimers({ now: 1_000_000 }));
  afterEach(() => vi.useRealTimers());

  it('with --lb-discovery targeted leaves a group bound by a TargetGroupBinding, without listing or describing the region', async () => {
    const w = world('targeted', { targetGroups: true, classicLoadBalancers: false });
    const bound = w.elb.addTargetGroup('k8s-web', { delaySeconds: 1 });
    const byHand = w.elb.addTargetGroup('by-hand', { delaySeconds: 1 });
    for (let g = 0; g < 50; g++) w.elb.addTargetGroup(`other-${g}`);
    w.elb.register(bound, 'i-1', 30080);
    w.elb.register(bound, 'i-2', 30080);
    w.elb.register(byHand, 'i-1', 80);
    w.bind(bound);

    const report = await run(w.deregistrar.deregister(w.request(1), live()));

    expect(report).toEqual({ targetGroups: 1, classicLoadBalancers: 0, problems: [], timedOut: false });
    expect(w.elb.live(bound).map((t) => t.id)).toEqual(['i-2']);
    expect(w.elb.live(byHand).map((t) => t.id)).toEqual(['i-1']);
    // The binding named the type and VPC: no DescribeTargetGroups; only the bound group was read.
    expect(w.elb.count('DescribeTargetGroups')).toBe(0);
    expect(w.elb.calls.filter((c) => c.op === 'DescribeTargetHealth').map((c) => c.on).every((arn) => arn === bound)).toBe(true);
  });

  it('resolves a binding that names its group by spec.targetGroupName with one DescribeTargetGroups, shared by concurrent events', async () => {
    const w = world('targeted', { targetGroups: true, classicLoadBalancers: false });
    const bound = w.elb.addTargetGroup('k8s-named', { delaySeconds: 0 });
    for (let n = 1; n <= 5; n++) w.elb.register(bound, `i-${n}`, 30080);
    w.bind('', { arn: undefined, name: 'k8s-named', targetType: undefined, vpcId: undefined });

    const reports = await run(Promise.all([1, 2, 3, 4, 5].map((n) => w.deregistrar.deregister(w.request(n), live()))));

    expect(reports.map((r) => r.targetGroups)).toEqual([1, 1, 1, 1, 1]);
    expect(w.elb.live(bound)).toEqual([]);
    // One lookup by name; the group's type then comes from that answer, not another call.
    expect(w.elb.count('DescribeTargetGroups')).toBe(1);
  });

  it('ignores a binding in another VPC: neither its ip group holding a pod\'s address nor its instance group is touched', async () => {
    const w = world('targeted', { targetGroups: true, classicLoadBalancers: false });
    const mine = w.elb.addTargetGroup('k8s-mine', { targetType: 'ip', vpcId: 'vpc-1', delaySeconds: 0 });
    const theirPods = w.elb.addTargetGroup('k8s-theirs', { targetType: 'ip', vpcId: 'vpc-2', delaySeconds: 0 });
    const theirNodes = w.elb.addTargetGroup('k8s-theirs-nodes', { vpcId: 'vpc-2', delaySeconds: 0 });
    const myNodes = w.elb.addTargetGroup('k8s-nodes', { vpcId: 'vpc-1', delaySeconds: 0 });
    w.elb.register(mine, '10.1.1.1', 8080);
    w.elb.register(theirPods, '10.1.1.1', 8080); // another cluster's pod with the same address
    w.elb.register(theirNodes, 'i-1', 30080); // AWS would refuse this; the service must not rely on it
    w.elb.register(myNodes, 'i-1', 30080);
    w.bind(mine, { targetType: 'ip', vpcId: 'vpc-1' });
    w.bind(theirPods, { targetType: 'ip', vpcId: 'vpc-2' });
    w.bind(theirNodes, { targetType: 'instance', vpcId: 'vpc-2' });
    w.bind(myNodes, { targetType: 'instance', vpcId: 'vpc-1' });

    const report = await run(w.deregistrar.deregister(w.request(1), live()));

    expect(report).toEqual({ targetGroups: 2, classicLoadBalancers: 0, problems: [], timedOut: false });
    expect(w.elb.live(mine)).toEqual([]);
    expect(w.elb.live(myNodes)).toEqual([]);
    expect(w.elb.live(theirPods).map((t) => `${t.id} ${t.state}`)).toEqual(['10.1.1.1 healthy']);
    expect(w.elb.live(theirNodes).map((t) => `${t.id} ${t.state}`)).toEqual(['i-1 healthy']);
    expect(w.elb.calls.filter((c) => c.op === 'DeregisterTargets').map((c) => c.on).sort()).toEqual([mine, myNodes].sort());
  });

  it('once a bound group found the instance, does not read the groups the index lacks (no scan for that event)', async () => {
    const w = world('targeted+scan', { targetGroups: true, classicLoadBalancers: false });
    const bound = w.elb.addTargetGroup('k8s-web', { delaySeconds: 0 });
    for (let g = 0; g < 100; g++) w.elb.addTargetGroup(`unbound-${g}`);
    w.elb.register(bound, 'i-1', 30080);
    w.bind(bound);

    const report = await run(w.deregistrar.deregister(w.request(1), live()));

    expect(report.targetGroups).toBe(1);
    expect(w.elb.count('DescribeTargetGroups')).toBe(0);
    expect(w.elb.calls.filter((c) => c.op === 'DescribeTargetHealth' && c.on !== bound)).toEqual([]);
  });

  it('an instance no bound or attached group holds waits for the groups the index has not read since its Node existed, and only those', async () => {
    const w = world('targeted+scan', { targetGroups: true, classicLoadBalancers: false });
    const groups = Array.from({ length: 10 }, (_, g) => w.elb.addTargetGroup(`tg-${g}`, { delaySeconds: 0 }));
    w.elb.register(groups[3]!, 'i-1', 80);
    await run(w.buildIndex());
    const built = w.elb.count('DescribeTargetHealth');
    expect(built).toBe(10);

    // An old Node: the built index answers, no call.
    expect((await run(w.deregistrar.deregister(w.request(1), live()))).targetGroups).toBe(1);
    expect(w.elb.count('DescribeTargetHealth') - built).toBe(1); // the wait's poll, nothing else
    // A Node younger than the index: the list and every group are read again for it (a registration made since).
    const late = w.elb.addTargetGroup('tg-late', { delaySeconds: 0 });
    w.elb.register(late, 'i-2', 80);
    const young = { ...w.request(2).node!, creationTimestamp: new Date(Date.now()) };
    expect((await run(w.deregistrar.deregister(w.request(2, { node: young }), live()))).targetGroups).toBe(1);
    expect(w.elb.live(late)).toEqual([]);
  });

  it('merges DeregisterTargets and the waits\' filtered DescribeTargetHealth of concurrent events on shared groups: the cost per event falls as concurrency rises', async () => {
    /** Elastic Load Balancing calls per event when `events` instances, all in the same 10 bound groups, terminate at once. */
    const perEvent = async (events: number): Promise<Record<string, number>> => {
      const w = world('targeted+scan', { targetGroups: true, classicLoadBalancers: false }, 5); // --lb-api-rate 5
      const groups = Array.from({ length: 10 }, (_, g) => w.elb.addTargetGroup(`k8s-svc-${g}`, { delaySeconds: 10 }));
      for (const g of groups) {
        w.bind(g);
        for (let n = 1; n <= events; n++) w.elb.register(g, `i-${n}`, 30080 + groups.indexOf(g));
      }
      await run(w.buildIndex());
      const before = w.elb.calls.length;
      const reports = await run(Promise.all(Array.from({ length: events }, (_, i) => w.deregistrar.deregister(w.request(i + 1), live()))));
      expect(reports.every((r) => r.targetGroups === 10 && r.problems.length === 0)).toBe(true);
      for (const g of groups) expect(w.elb.live(g)).toEqual([]);
      const counts: Record<string, number> = {};
      for (const c of w.elb.calls.slice(before)) counts[c.op] = (counts[c.op] ?? 0) + 1 / events;
      return counts;
    };
    const ten = await perEvent(10);
    const hundred = await perEvent(100);
    // Alone, an event would make 10 DeregisterTargets and at least 10 polls.
    expect(ten['DeregisterTargets']!).toBeLessThanOrEqual(2);
    expect(hundred['DeregisterTargets']!).toBeLessThan(ten['DeregisterTargets']! / 4);
    expect(hundred['DescribeTargetHealth']!).toBeLessThan(ten['DescribeTargetHealth']! / 4);
    // Attributes were read ahead with the index (the groups are the cluster's): none per event.
    expect(hundred['DescribeTargetGroupAttributes'] ?? 0).toBe(0);
  });
});
