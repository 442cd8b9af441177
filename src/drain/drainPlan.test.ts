import { describe, expect, it } from 'vitest';
import type { BudgetInfo, PodInfo } from '../lifecycle/ports.js';
import { blockersByOwner, describePlan, planDrain } from './drainPlan.js';

const rs = { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-5d4', uid: 'rs-1', namespace: 'shop' };
function pod(name: string, extra: Partial<PodInfo> = {}): PodInfo {
  return {
    namespace: 'shop', name, uid: `uid-${name}`, phase: 'Running', ownerKinds: ['ReplicaSet'], isMirror: false, deletionTimestamp: undefined,
    terminationGracePeriodSeconds: 30, podIps: [], labels: { app: 'web' }, controller: rs, ...extra,
  };
}
const budget = (name: string, disruptionsAllowed: number, matchLabels: Record<string, string> = { app: 'web' }, namespace = 'shop'): BudgetInfo =>
  ({ namespace, name, selector: { matchLabels, matchExpressions: [] }, disruptionsAllowed });

describe('planDrain', () => {
  it('finds nothing for controlled pods whose budgets allow a disruption and whose grace fits', () => {
    const plan = planDrain('n1', [pod('a'), pod('b')], [budget('web', 1)], 600);
    expect(plan.blockers).toEqual([]);
    expect(describePlan(plan)).toBe('2 pods to evict (2 non-critical); nothing known blocks the drain');
  });

  it('names each pod held by a budget that allows 0 disruptions, and only in that budget\'s namespace', () => {
    const plan = planDrain('n1', [pod('a'), pod('b', { namespace: 'other', labels: { app: 'web' } })], [budget('web', 0)], 600);
    expect(plan.blockers.map((b) => [b.kind, b.pod.name, b.detail])).toEqual([['pdb-allows-no-disruption', 'a', 'PodDisruptionBudget shop/web allows 0 disruptions now']]);
  });

  it('a pod covered by two budgets is refused by the eviction API whatever they allow', () => {
    const plan = planDrain('n1', [pod('a')], [budget('web', 3), budget('all', 5, {})], 600);
    expect(plan.blockers.map((b) => b.kind)).toEqual(['several-pdbs']);
  });

  it('a null selector covers nothing; an empty one covers the namespace', () => {
    const none: BudgetInfo = { namespace: 'shop', name: 'null', selector: undefined, disruptionsAllowed: 0 };
    expect(planDrain('n1', [pod('a')], [none], 600).blockers).toEqual([]);
    expect(planDrain('n1', [pod('a', { labels: {} })], [budget('everything', 0, {})], 600).blockers.map((b) => b.kind)).toEqual(['pdb-allows-no-disruption']);
  });

  it('flags a grace period longer than what the drain has left (the default 30 s when unset), not when no deadline is known', () => {
    const pods = [pod('slow', { terminationGracePeriodSeconds: 3600 }), pod('unset', { terminationGracePeriodSeconds: undefined })];
    expect(planDrain('n1', pods, [], 20.7).blockers.map((b) => `${b.pod.name}: ${b.detail}`)).toEqual([
      'slow: terminationGracePeriodSeconds 3600 is more than the 20s the drain has left',
      'unset: terminationGracePeriodSeconds 30 is more than the 20s the drain has left',
    ]);
    expect(planDrain('n1', pods, [], undefined).blockers).toEqual([]);
  });

  it('flags bare pods and emptyDir pods; leaves DaemonSet, mirror, finished and terminating pods out', () => {
    const plan = planDrain('n1', [
      pod('bare', { controller: undefined, ownerKinds: [] }),
      pod('scratch', { hasLocalStorage: true }),
      pod('ds', { ownerKinds: ['DaemonSet'], controller: undefined }),
      pod('static', { isMirror: true, controller: undefined }),
      pod('done', { phase: 'Succeeded', controller: undefined }),
      pod('going', { deletionTimestamp: new Date(), controller: undefined }),
    ], [], 600);
    expect(plan.blockers.map((b) => `${b.kind} ${b.pod.name}`)).toEqual(['no-controller bare', 'local-storage scratch']);
    expect(plan.tiers.map((t) => [t.tier, t.pods.map((p) => p.name)])).toEqual([['non-critical', ['bare', 'scratch']]]);
  });

  it('orders the tiers: the rest first, then the system-critical pods', () => {
    const plan = planDrain('n1', [pod('dns', { priorityClassName: 'system-cluster-critical' }), pod('web'), pod('agent', { priority: 2_000_001_000 })], [], 600);
    expect(plan.tiers.map((t) => [t.tier, t.pods.map((p) => p.name)])).toEqual([['non-critical', ['web']], ['critical', ['dns', 'agent']]]);
    expect(describePlan(plan)).toBe('3 pods to evict (1 non-critical, then 2 system-critical); nothing known blocks the drain');
  });

  it('groups the problems by the owner to warn: the controller, or the pod itself', () => {
    const plan = planDrain('n1', [pod('a'), pod('b'), pod('bare', { controller: undefined, ownerKinds: [] })], [budget('web', 0)], 600);
    const groups = blockersByOwner(plan, 10);
    expect(groups.map((g) => [`${g.owner.kind}/${g.owner.name}`, g.blockers.map((b) => b.pod.name)])).toEqual([
      ['ReplicaSet/web-5d4', ['a', 'b']],
      ['Pod/bare', ['bare', 'bare']],
    ]);
    expect(blockersByOwner(plan, 1)).toHaveLength(1);
    expect(describePlan(plan, 2)).toBe('3 pods to evict (3 non-critical); 4 problems: pod shop/a: PodDisruptionBudget shop/web allows 0 disruptions now; pod shop/b: PodDisruptionBudget shop/web allows 0 disruptions now; and 2 more');
  });
});
