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
