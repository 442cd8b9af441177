import { describe, expect, it } from 'vitest';
import { counter, pod, setup } from '../../test/unit/fakes/workflow.js';

const taint = { key: 'lifecycle-manager.io/terminating', effect: 'NoSchedule' as const };

describe('--dry-run', () => {
  it('reads and plans, changes nothing, publishes the plan on the Node and deletes the message', async () => {
    const t = setup({ config: { dryRun: true, taint } });
    t.cluster.pods = [pod('a'), pod('b')];
    t.deregistrar.report = { targetGroups: 0, classicLoadBalancers: 0, problems: [], timedOut: false, found: ['target group web'] };
    const [m, lease] = t.message();
    await t.workflow.handleMessage(m, lease);
    // Only reads reached the cluster (the deregistrar was asked in dry-run mode, which calls nothing that writes).
    expect(t.cluster.log).toEqual(['deregister', 'list pdbs']);
    expect(t.autoScaling.completions).toEqual([]);
    expect(t.autoScaling.heartbeats).toBe(0);
    expect(lease.settled).toEqual(['deleted']);
    expect(t.events.map((e) => e.reason)).toEqual(['DryRunPlan']);
    expect(t.events[0]!.message).toMatch(/would cordon node n1 and taint it lifecycle-manager.io\/terminating=i-0123456789abcdef0:NoSchedule; would deregister from target group web; would drain: 2 pods to evict.*would complete CONTINUE/u);
    expect(await counter(t.metrics.dryRunPlans, { outcome: 'complete' })).toBe(1);
  });

  it('still plans nothing for a message AWS does not confirm', async () => {
    const t = setup({ config: { dryRun: true } });
    t.autoScaling.state = 'InService';
    const [m, lease] = t.message();
    await t.workflow.handleMessage(m, lease);
    expect(t.events.map((e) => e.reason)).toEqual([]);
    expect(await counter(t.metrics.dryRunPlans)).toBe(0);
    expect(lease.settled).toEqual(['deleted']);
  });

  it('names in the plan what it could not read, and still publishes it', async () => {
    const t = setup({ config: { dryRun: true } });
    t.deregistrar.error = new Error('elbv2 unreachable');
    const [m, lease] = t.message();
    await t.workflow.handleMessage(m, lease);
    expect(t.events[0]!.message).toMatch(/could not read: the load balancers \(.*elbv2 unreachable.*\)/u);
    expect(await counter(t.metrics.dryRunPlans, { outcome: 'partial' })).toBe(1);
    expect(t.autoScaling.completions).toEqual([]);
  });
});

describe('--cordon-only', () => {
  it('cordons, deregisters and completes CONTINUE without evicting or deleting the Node', async () => {
    const t = setup({ config: { cordonOnly: true } });
    t.cluster.pods = [pod('a')];
    const [m, lease] = t.message();
    await t.workflow.handleMessage(m, lease);
    expect(t.cluster.log).toEqual(['cordon n1', 'deregister']);
    expect(t.autoScaling.completions).toEqual(['CONTINUE']);
    expect(lease.settled).toEqual(['deleted']);
  });
});

describe('--taint-node', () => {
  it('taints the node with our key when cordoning it, and leaves the taint on a node that goes', async () => {
    const t = setup({ config: { taint } });
    t.cluster.pods = [pod('a')];
    const [m, lease] = t.message();
    await t.workflow.handleMessage(m, lease);
    expect(t.cluster.log.slice(0, 2)).toEqual(['cordon n1', 'taint n1 lifecycle-manager.io/terminating:NoSchedule']);
    expect(t.cluster.log).not.toContain('untaint n1 lifecycle-manager.io/terminating');
    expect(t.autoScaling.completions).toEqual(['CONTINUE']);
  });

  it('removes the taint when the action is abandoned and the node stays', async () => {
    const t = setup({ config: { taint } });
    t.cluster.pods = [pod('stuck')];
    t.cluster.refuseEvictions = true;
    const [m, lease] = t.message();
    await t.workflow.handleMessage(m, lease);
    expect(t.autoScaling.completions).toEqual(['ABANDON']);
    expect(t.cluster.log).toContain('untaint n1 lifecycle-manager.io/terminating');
    expect(t.cluster.taints.size).toBe(0);
    expect(t.cluster.log).not.toContain('delete node n1');
  });
});
