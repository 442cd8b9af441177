import type { DrainPlan } from '../drain/drainPlan.js';
import { podRef } from '../drain/podSelection.js';

/** What `doctor --node` prints: the drain plan a termination of the node's instance would start with now. */
export function renderNodePlan(plan: DrainPlan): string[] {
  const lines = [`drain plan for node ${plan.nodeName}${plan.remainingSeconds !== undefined ? ` (the drain's budget from these flags: ${Math.round(plan.remainingSeconds)}s)` : ''}:`];
  if (plan.tiers.length === 0) lines.push('   no pods to evict (DaemonSet and mirror pods stay)');
  plan.tiers.forEach((t, i) => {
    const names = t.pods.slice(0, 10).map(podRef).join(', ');
    lines.push(`   ${i + 1}. ${t.tier === 'critical' ? 'system-critical' : 'non-critical'}: ${t.pods.length} pods (${names}${t.pods.length > 10 ? ', …' : ''})${i > 0 ? ', once the tier before is gone' : ''}`);
  });
  for (const b of plan.blockers) lines.push(`✗  pod ${podRef(b.pod)}: ${b.detail} [${b.kind}]`);
  lines.push(plan.blockers.length === 0 ? '✓  nothing known blocks the drain' : `${plan.blockers.length} ${plan.blockers.length === 1 ? 'problem' : 'problems'} would hold the drain up or lose data`);
  return lines;
}

/** The same plan as a JSON-ready object (doctor --node … --output json). */
export function jsonNodePlan(plan: DrainPlan): object {
  return {
    ok: plan.blockers.length === 0,
    node: plan.nodeName,
    ...(plan.remainingSeconds !== undefined ? { drainBudgetSeconds: Math.round(plan.remainingSeconds) } : {}),
    tiers: plan.tiers.map((t) => ({ tier: t.tier, pods: t.pods.map(podRef) })),
    problems: plan.blockers.map((b) => ({ kind: b.kind, pod: podRef(b.pod), detail: b.detail })),
  };
}
