import type { BudgetInfo, ClusterPort, ObjectRef, PodInfo } from '../lifecycle/ports.js';
import { retryUntil } from '../lifecycle/retryUntil.js';
import type { Logger } from '../observability/logger.js';
import { selects } from './labelSelector.js';
import { type DrainTier, currentTier, isTerminal, podRef, podsToDrain } from './podSelection.js';

/** What can be known before the first eviction to hold a drain up, or to cost something when it goes through. */
export const BLOCKER_KINDS = ['pdb-allows-no-disruption', 'several-pdbs', 'grace-period-exceeds-budget', 'no-controller', 'local-storage'] as const;
export type BlockerKind = (typeof BLOCKER_KINDS)[number];

export interface Blocker {
  readonly kind: BlockerKind;
  readonly pod: PodInfo;
  /** "PodDisruptionBudget shop/web allows 0 disruptions" */
  readonly detail: string;
}

export interface DrainPlan {
  readonly nodeName: string;
  /** Pods the drain will evict, by tier, in the order the tiers go. */
  readonly tiers: readonly { readonly tier: DrainTier; readonly pods: readonly PodInfo[] }[];
  readonly blockers: readonly Blocker[];
  /** The drain's time the plan was made for; undefined when the action has no known deadline. */
  readonly remainingSeconds: number | undefined;
  /** Every pod on the node the plan was made from, those that stay (DaemonSets, mirror pods) too. */
  readonly podsOnNode: readonly PodInfo[];
}

/** Default terminationGracePeriodSeconds of a pod that does not set one. */
const DEFAULT_GRACE_SECONDS = 30;

/**
 * The drain plan for the pods on a node: which tiers will go in which order, and per pod what will block or hurt —
 * a PodDisruptionBudget that allows no disruption now (or two budgets covering one pod, which the eviction API
 * refuses outright), a grace period longer than the drain has left, no controller to recreate the pod elsewhere,
 * emptyDir data lost with the node. Pure: the same inputs give the same plan.
 */
export function planDrain(nodeName: string, podsOnNode: readonly PodInfo[], budgets: readonly BudgetInfo[], remainingSeconds: number | undefined): DrainPlan {
  const pods = podsToDrain(podsOnNode).filter((p) => !isTerminal(p) && !p.deletionTimestamp);
  const blockers: Blocker[] = [];
  for (const pod of pods) {
    const covering = budgets.filter((b) => b.namespace === pod.namespace && b.selector !== undefined && selects(b.selector, pod.labels ?? {}));
    if (covering.length > 1) {
      blockers.push({ kind: 'several-pdbs', pod, detail: `covered by ${covering.length} PodDisruptionBudgets (${covering.map((b) => b.name).join(', ')}); the eviction API refuses such pods` });
    } else if (covering.length === 1 && covering[0]!.disruptionsAllowed <= 0) {
      blockers.push({ kind: 'pdb-allows-no-disruption', pod, detail: `PodDisruptionBudget ${pod.namespace}/${covering[0]!.name} allows 0 disruptions now` });
    }
    const grace = pod.terminationGracePeriodSeconds ?? DEFAULT_GRACE_SECONDS;
    if (remainingSeconds !== undefined && grace > remainingSeconds) {
      blockers.push({ kind: 'grace-period-exceeds-budget', pod, detail: `terminationGracePeriodSeconds ${grace} is more than the ${Math.max(0, Math.floor(remainingSeconds))}s the drain has left` });
    }
    if (!pod.controller) {
      blockers.push({ kind: 'no-controller', pod, detail: 'no controller owns it: once evicted it is not recreated anywhere' });
    }
    if (pod.hasLocalStorage) {
      blockers.push({ kind: 'local-storage', pod, detail: 'uses emptyDir local storage: its data is lost with the node' });
    }
  }
  const first = currentTier(pods);
  const tiers = !first ? [] : first.tier === 'critical'
    ? [{ tier: first.tier, pods: first.pods }]
    : [{ tier: first.tier, pods: first.pods }, ...(first.later.length > 0 ? [{ tier: 'critical' as const, pods: first.later }] : [])];
  return { nodeName, tiers, blockers, remainingSeconds, podsOnNode };
}

/** "12 pods to evict (10 non-critical, then 2 system-critical); 3 problems: pod a/b: …; …" */
export function describePlan(plan: DrainPlan, maxProblems = 8): string {
  const count = plan.tiers.reduce((n, t) => n + t.pods.length, 0);
  const tiers = plan.tiers.map((t) => `${t.pods.length} ${t.tier === 'critical' ? 'system-critical' : 'non-critical'}`).join(', then ');
  const head = count === 0 ? 'no pods to evict' : `${count} pods to evict (${tiers})`;
  if (plan.blockers.length === 0) return `${head}; nothing known blocks the drain`;
  const shown = plan.blockers.slice(0, maxProblems).map((b) => `pod ${podRef(b.pod)}: ${b.detail}`);
  const more = plan.blockers.length > maxProblems ? `; and ${plan.blockers.length - maxProblems} more` : '';
  return `${head}; ${plan.blockers.length} ${plan.blockers.length === 1 ? 'problem' : 'problems'}: ${shown.join('; ')}${more}`;
}

/** The object an on-call engineer looks at for a blocking pod: its controller, or the pod itself when it has none. */
export function ownerOf(pod: PodInfo): ObjectRef {
  return pod.controller ?? { apiVersion: 'v1', kind: 'Pod', name: pod.name, uid: pod.uid, namespace: pod.namespace };
}

/** The blockers grouped by owner (at most `maxOwners`, so a node full of bare pods is not an Event storm). */
export function blockersByOwner(plan: DrainPlan, maxOwners: number): Array<{ owner: ObjectRef; blockers: Blocker[] }> {
  const groups = new Map<string, { owner: ObjectRef; blockers: Blocker[] }>();
  for (const b of plan.blockers) {
    const owner = ownerOf(b.pod);
    const key = `${owner.namespace ?? ''}/${owner.kind}/${owner.name}/${owner.uid}`;
    const group = groups.get(key) ?? { owner, blockers: [] };
    group.blockers.push(b);
    groups.set(key, group);
  }
  return [...groups.values()].slice(0, maxOwners);
}

/** Reads what a plan needs (the node's pods, the cluster's PodDisruptionBudgets) and makes it. */
export class DrainPlanner {
  constructor(private readonly cluster: ClusterPort) {}

  async plan(nodeName: string, remainingSeconds: number | undefined, log: Logger, signal: AbortSignal): Promise<DrainPlan> {
    const [pods, budgets] = await Promise.all([
      retryUntil(() => this.cluster.listPodsOnNode(nodeName, signal), signal, { operation: `list pods on node ${nodeName}`, log }),
      retryUntil(() => this.cluster.listDisruptionBudgets(signal), signal, { operation: 'list poddisruptionbudgets', log }),
    ]);
    return planDrain(nodeName, pods, budgets, remainingSeconds);
  }
}
