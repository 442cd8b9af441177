import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { AccessDeniedError, TransientError } from '../lifecycle/errors.js';
import { live, node, run, value, world } from '../../test/unit/loadBalancingWorld.js';

describe('TargetDeregistrar', () => {
  beforeEach(() => vi.useFakeTimers({ now: 1_000_000 }));
  afterEach(() => vi.useRealTimers());

  it('takes the instance out of everything: every port of an attached group, a group registered by hand, its node and pod IPs in an ip group, a classic ELB', async () => {
    const w = world('targeted+scan');
    const attached = w.elb.addTargetGroup('attached', { delaySeconds: 5 });
    const byHand = w.elb.addTargetGroup('by-hand', { delaySeconds: 2 });
    const pods = w.elb.addTargetGroup('pods', { targetType: 'ip', delaySeconds: 1 });
    const other = w.elb.addTargetGroup('other', { delaySeconds: 1 });
    w.elb.sources.set('asg', { targetGroupArns: [attached], loadBalancerNames: ['classic'] });
    w.elb.register(attached, 'i-1', 80);
    w.elb.register(attached, 'i-1', 8080);
    w.elb.register(byHand, 'i-1', 443);
    w.elb.register(pods, '10.1.1.1', 8080);
    w.elb.register(pods, '172.31.0.1', 9100);
    w.elb.register(pods, '10.1.2.1', 8080); // another node's pod
    w.elb.register(other, 'i-2', 80);
    w.elb.addClassic('classic', ['i-1', 'i-2']);
    await run(w.buildIndex()); // a running service has built its index

    const report = await run(w.deregistrar.deregister(w.request(1), live()));

    expect(report).toEqual({ targetGroups: 3, classicLoadBalancers: 1, problems: [], timedOut: false });
    expect(w.elb.live(attached)).toEqual([]);
    expect(w.elb.live(byHand)).toEqual([]);
    expect(w.elb.live(pods).map((t) => `${t.id}:${t.port} ${t.state}`)).toEqual(['10.1.2.1:8080 healthy']);
    expect(w.elb.live(other).map((t) => t.id)).toEqual(['i-2']);
    expect([...w.elb.classic.get('classic')!]).toEqual(['i-2']);
    // One Event per reason, counting the load balancers it stands for, each one's own sentence kept.
    expect(w.events.published.map((e) => `${e.node} ${e.reason} x${e.count ?? 1}: ${e.message}`).sort()).toEqual([
      'node-1 InstanceDeregisterSucceeded x1: instance i-1 has successfully deregistered from classic-elb classic',
      'node-1 TargetDeregisterSucceeded x3: target 10.1.1.1:8080,172.31.0.1:9100 has successfully deregistered from target group pods; '
        + 'target i-1:443 has successfully deregistered from target group by-hand; '
        + 'target i-1:80,i-1:8080 has successfully deregistered from target group attached',
    ]);
    expect(await value(w.metrics.successfulLbDeregisters)).toBe(4);
    expect(await value(w.metrics.failedLbDeregisters)).toBe(0);
    expect((await w.metrics.lbDeregistrationWait.get()).values.find((v) => v.metricName?.endsWith('_count') && v.labels['type'] === 'target-group')?.value).toBe(3);
  });

  it('shares one region scan among concurrent events and merges their DeregisterTargets calls per group', async () => {
    const w = world('scan', { targetGroups: true, classicLoadBalancers: false });
    const groups = ['a', 'b', 'c'].map((name) => w.elb.addTargetGroup(name, { delaySeconds: 3 }));
    for (let n = 1; n <= 20; n++) for (const g of groups.slice(0, 2)) w.elb.register(g, `i-${n}`, 80);

    const reports = await run(Promise.all(Array.from({ length: 20 }, (_, i) => w.deregistrar.deregister(w.request(i + 1), live()))));

    expect(reports.every((r) => r.targetGroups === 2)).toBe(true);
    expect(w.elb.count('DescribeTargetGroups')).toBe(1);
    expect(w.elb.count('DeregisterTargets')).toBe(2);
    expect(w.elb.count('DescribeTargetGroupAttributes')).toBe(2);
    expect(w.elb.count('DescribeTargetHealth')).toBe(3 + 2); // the scan (one per group) + one merged poll per group
    expect(w.elb.count('DescribeTrafficSources')).toBe(0);
  });

  it('reuses a scan only while it is fresh, and never one that started before the node existed', async () => {
    const w = world('scan', { targetGroups: true, classicLoadBalancers: false });
    const g = w.elb.addTargetGroup('web', { delaySeconds: 0 });
    w.elb.register(g, 'i-1', 80);
    w.elb.register(g, 'i-2', 80);
    await run(w.deregistrar.deregister(w.request(1), live()));
    expect(w.elb.count('DescribeTargetGroups')).toBe(1);
    w.elb.register(g, 'i-3', 80);
    await run(w.deregistrar.deregister(w.request(2), live())); // within the TTL: same scan
    expect(w.elb.count('DescribeTargetGroups')).toBe(1);
    const young = { ...node(3, '172.31.0.3'), creationTimestamp: new Date(Date.now()) };
    await run(w.deregistrar.deregister(w.request(3, { node: young }), live()));
    expect(w.elb.count('DescribeTargetGroups')).toBe(2);
    expect(w.elb.live(g)).toEqual([]);
  });

  it('with targeted discovery asks only the Auto Scaling group\'s attachments, and leaves groups it was registered in by hand', async () => {
    const w = world('targeted');
    const attached = w.elb.addTargetGroup('attached', { delaySeconds: 1 });
    const byHand = w.elb.addTargetGroup('by-hand', { delaySeconds: 1 });
    w.elb.sources.set('asg', { targetGroupArns: [attached], loadBalancerNames: [] });
    w.elb.register(attached, 'i-1', 80);
    w.elb.register(byHand, 'i-1', 80);
    await run(Promise.all([w.deregistrar.deregister(w.request(1), live()), w.deregistrar.deregister(w.request(2), live())]));
    expect(w.elb.live(attached)).toEqual([]);
    expect(w.elb.live(byHand).map((t) => t.id)).toEqual(['i-1']);
    expect(w.elb.count('DescribeTargetGroups')).toBe(0);
    expect(w.elb.count('DescribeTrafficSources')).toBe(1); // shared by both events of the group
  });

  it('skips a target group deleted mid-flow with a warning and still succeeds', async () => {
    const w = world('targeted+scan');
    const doomed = w.elb.addTargetGroup('doomed', { delaySeconds: 10 });
    const kept = w.elb.addTargetGroup('kept', { delaySeconds: 1 });
    w.elb.register(doomed, 'i-1', 80);
    w.elb.register(kept, 'i-1', 80);
    w.elb.onCall = (c) => { if (c.op === 'DeregisterTargets' && c.on === doomed) setTimeout(() => w.elb.deleteTargetGroup(doomed), 1_000); };

    const report = await run(w.deregistrar.deregister(w.request(1), live()));

    expect(report).toEqual({ targetGroups: 1, classicLoadBalancers: 0, problems: [], timedOut: false });
    expect(w.lines.some((l) => l.includes('level=warning') && l.includes('target group doomed no longer exists; skipping it'))).toBe(true);
    expect(w.elb.live(kept)).toEqual([]);
    expect(await value(w.metrics.failedLbDeregisters)).toBe(0);
  });

  it('reports any other error as a problem of that load balancer alone, with a failure Event and metric; the others still finish', async () => {
    const w = world('scan');
    const broken = w.elb.addTargetGroup('broken', { delaySeconds: 1 });
    const fine = w.elb.addTargetGroup('fine', { delaySeconds: 1 });
    w.elb.register(broken, 'i-1', 80);
    w.elb.register(fine, 'i-1', 80);
    w.elb.onCall = (c) => {
      if (c.op === 'DeregisterTargets' && c.on === broken) w.elb.failures.set('DeregisterTargets', [new AccessDeniedError('elasticloadbalancing:DeregisterTargets', 'User is not authorized')]);
    };

    const report = await run(w.deregistrar.deregister(w.request(1), live()));

    expect(report).toEqual({ targetGroups: 1, classicLoadBalancers: 0, timedOut: false, problems: [
      { what: 'target group broken: access denied calling elasticloadbalancing:DeregisterTargets: User is not authorized', failureClass: 'forbidden' },
    ] });
    expect(w.lines.some((l) => l.includes('level=error') && l.includes('failed to deregister from target group broken'))).toBe(true);
    expect(w.events.published.map((e) => `${e.reason} ${e.type}`).sort()).toEqual(['TargetDeregisterFailed Warning', 'TargetDeregisterSucceeded Normal']);
    expect(w.elb.live(fine)).toEqual([]);
    expect(await value(w.metrics.failedLbDeregisters)).toBe(1);
    expect(await value(w.metrics.successfulLbDeregisters)).toBe(1);
  });

  it('takes ip targets of the instance\'s own VPC only, when overlapping address ranges put the same IP in another VPC', async () => {
    const w = world('scan', { targetGroups: true, classicLoadBalancers: false });
    const instances = w.elb.addTargetGroup('instances', { vpcId: 'vpc-1', delaySeconds: 0 });
    const mine = w.elb.addTargetGroup('pods-here', { targetType: 'ip', vpcId: 'vpc-1', delaySeconds: 0 });
    const theirs = w.elb.addTargetGroup('pods-elsewhere', { targetType: 'ip', vpcId: 'vpc-2', delaySeconds: 0 });
    w.elb.register(instances, 'i-1', 80);
    w.elb.register(mine, '10.1.1.1', 8080);
    w.elb.register(theirs, '10.1.1.1', 8080);
    await run(w.deregistrar.deregister(w.request(1), live()));
    expect(w.elb.live(mine)).toEqual([]);
    expect(w.elb.live(theirs).map((t) => t.id)).toEqual(['10.1.1.1']);
  });

  it('never takes an ip target whose VPC it cannot prove, even when the instance is no instance target anywhere', async () => {
    const w = world('scan', { targetGroups: true, classicLoadBalancers: false });
    const theirs = w.elb.addTargetGroup('other-cluster-pods', { targetType: 'ip', vpcId: 'vpc-2', delaySeconds: 0 });
    w.elb.register(theirs, '10.1.1.1', 8080);
    const unknownVpc = await run(w.deregistrar.deregister(w.request(1, { instanceVpc: async () => undefined }), live()));
    expect(w.elb.live(theirs).map((t) => t.id)).toEqual(['10.1.1.1']);
    expect(unknownVpc.problems.map((p) => p.what)).toEqual([
      'ip targets with the node\'s or its pods\' addresses were left alone in 1 target groups: the instance\'s VPC is unknown, so they cannot be proven this instance\'s',
    ]);
    const knownVpc = await run(w.deregistrar.deregister(w.request(1), live()));
    expect(knownVpc).toEqual({ targetGroups: 0, classicLoadBalancers: 0, problems: [], timedOut: false });
    expect(w.elb.live(theirs).map((t) => t.id)).toEqual(['10.1.1.1']);
  });

  it('asks for the instance\'s VPC only when an ip target group holds one of its addresses', async () => {
    const w = world('scan', { targetGroups: true, classicLoadBalancers: false });
    const g = w.elb.addTargetGroup('web', { delaySeconds: 0 });
    w.elb.register(g, 'i-1', 80);
    await run(w.deregistrar.deregister(w.request(1), live()));
    expect(w.vpcReads()).toBe(0);
  });

  it('reports a target group the scan could not read, and still deregisters from the others', async () => {
    const w = world('scan', { targetGroups: true, classicLoadBalancers: false });
    const unreadable = w.elb.addTargetGroup('unreadable', { delaySeconds: 0 });
    const fine = w.elb.addTargetGroup('fine', { delaySeconds: 0 });
    w.elb.register(fine, 'i-1', 80);
    w.elb.register(unreadable, 'i-1', 80);
    w.elb.onCall = (c) => {
      if (c.op === 'DescribeTargetGroups') w.elb.failures.set('DescribeTargetHealth', [new AccessDeniedError('elasticloadbalancing:DescribeTargetHealth', 'User is not authorized')]);
    };
    const report = await run(w.deregistrar.deregister(w.request(1), live()));
    expect(report.targetGroups).toBe(1);
    expect(report.problems).toEqual([{ what: 'could not check target group unreadable: access denied calling elasticloadbalancing:DescribeTargetHealth: User is not authorized', failureClass: 'forbidden' }]);
    expect(w.elb.live(fine)).toEqual([]);
  });

  it('lets a target group that keeps answering 5xx fail alone: the scan finishes without it and the others are deregistered', async () => {
    const w = world('scan', { targetGroups: true, classicLoadBalancers: false });
    const flaky = w.elb.addTargetGroup('flaky', { delaySeconds: 0 });
    const fine = w.elb.addTargetGroup('fine', { delaySeconds: 0 });
    w.elb.register(fine, 'i-1', 80);
    w.elb.onCall = (c) => {
      if (c.op === 'DescribeTargetHealth' && c.on === flaky) w.elb.failures.set('DescribeTargetHealth', [new TransientError('elasticloadbalancing:DescribeTargetHealth: ServiceUnavailable', false)]);
    };
    const report = await run(w.deregistrar.deregister(w.request(1), live()));
    expect(report.targetGroups).toBe(1);
    expect(w.elb.live(fine)).toEqual([]);
    expect(report.problems).toEqual([{ what: expect.stringMatching(/^could not check target group flaky: no answer within 15s \(DescribeTargetHealth failed \d+ times, last: elasticloadbalancing:DescribeTargetHealth: ServiceUnavailable\)$/u), failureClass: 'timeout' }]);
  });

  it('when its time runs out, reports what is still draining instead of failing, and stops waiting', async () => {
    const w = world('scan', { targetGroups: true, classicLoadBalancers: false });
    const slow = w.elb.addTargetGroup('slow', { delaySeconds: 3600 });
    w.elb.register(slow, 'i-1', 80);
    const share = new AbortController();
    setTimeout(() => share.abort(Object.assign(new Error('share'), { name: 'TimeoutError' })), 60_000);
    const report = await run(w.deregistrar.deregister(w.request(1), share.signal));
    expect(report.timedOut).toBe(true);
    expect(report.problems).toEqual([{ what: 'target group slow: still draining after 60s, when the time for load balancers ran out', failureClass: 'timeout' }]);
    expect(w.elb.live(slow).map((t) => t.state)).toEqual(['draining']); // deregistered, still draining at AWS
  });

  it('with awaitDrained false deregisters without waiting', async () => {
    const w = world('scan', { targetGroups: true, classicLoadBalancers: false });
    const slow = w.elb.addTargetGroup('slow', { delaySeconds: 3600 });
    w.elb.register(slow, 'i-1', 80);
    const report = await run(w.deregistrar.deregister(w.request(1, { awaitDrained: false }), live()));
    expect(report).toEqual({ targetGroups: 1, classicLoadBalancers: 0, problems: [], timedOut: false });
    expect(w.elb.count('DescribeTargetGroupAttributes')).toBe(0);
  });

  it('honours --deregister-target-types: classic-elb only never touches target groups', async () => {
    const w = world('targeted+scan', { targetGroups: false, classicLoadBalancers: true });
    const g = w.elb.addTargetGroup('web', { delaySeconds: 0 });
    w.elb.register(g, 'i-1', 80);
    w.elb.addClassic('classic', ['i-1']);
    expect(await run(w.deregistrar.deregister(w.request(1), live()))).toEqual({ targetGroups: 0, classicLoadBalancers: 1, problems: [], timedOut: false });
    expect(w.elb.calls.filter((c) => c.op.includes('Target'))).toEqual([]);
    expect(w.elb.live(g).map((t) => t.id)).toEqual(['i-1']);
  });
});
