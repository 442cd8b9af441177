import type { PodInfo } from '../lifecycle/ports.js';

/** Pods a drain leaves alone: DaemonSet pods (the DaemonSet would recreate them) and static/mirror pods. */
export function isDrainExempt(pod: PodInfo): boolean {
  return pod.isMirror || pod.ownerKinds.includes('DaemonSet');
}

export function isTerminal(pod: PodInfo): boolean {
  return pod.phase === 'Succeeded' || pod.phase === 'Failed';
}

/** Pods that must be gone before the node counts as drained (emptyDir pods included). */
export function podsToDrain(pods: readonly PodInfo[]): PodInfo[] {
  return pods.filter((p) => !isDrainExempt(p));
}

export function podRef(pod: Pick<PodInfo, 'namespace' | 'name'>): string {
  return `${pod.namespace}/${pod.name}`;
}

/** Grace period for the post-drain force-delete: the pod's own, capped; 0 when the kubelet is unreachable. */
export function escalationGraceSeconds(pod: PodInfo, capSeconds: number, nodeReady: string): number {
  if (nodeReady === 'Unknown') return 0;
  return Math.min(pod.terminationGracePeriodSeconds ?? capSeconds, capSeconds);
}

/** Priority classes Kubernetes reserves for what the cluster and its nodes cannot run without. */
export const CRITICAL_PRIORITY_CLASSES: ReadonlySet<string> = new Set(['system-cluster-critical', 'system-node-critical']);
/** Pods at or above this priority are system-critical whatever their class is called (the reserved range). */
export const CRITICAL_PRIORITY = 2_000_000_000;

/** DNS, CNI helpers, log shippers…: evicted only once the workloads they serve are gone. */
export function isCritical(pod: PodInfo): boolean {
  return (pod.priorityClassName !== undefined && CRITICAL_PRIORITY_CLASSES.has(pod.priorityClassName)) || (pod.priority ?? 0) >= CRITICAL_PRIORITY;
}

export type DrainTier = 'non-critical' | 'critical';
export const DRAIN_TIERS: readonly DrainTier[] = ['non-critical', 'critical'];

/** The first tier that still has pods on the node, and those pods (as Karpenter does: each tier waits for the one before). */
export function currentTier(pods: readonly PodInfo[]): { tier: DrainTier; pods: PodInfo[]; later: PodInfo[] } | undefined {
  const critical = pods.filter(isCritical);
  const nonCritical = pods.filter((p) => !isCritical(p));
  if (nonCritical.length > 0) return { tier: 'non-critical', pods: nonCritical, later: critical };
  if (critical.length > 0) return { tier: 'critical', pods: critical, later: [] };
  return undefined;
}
