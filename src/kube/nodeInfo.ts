import type * as k8s from '@kubernetes/client-node';
import type { NodeInfo } from '../lifecycle/ports.js';

/** `aws:///us-west-2a/i-0123` → `i-0123` (the last `/`-separated segment, as upstream matches). */
export function instanceIdFromProviderId(providerId: string | undefined): string | undefined {
  if (!providerId?.startsWith('aws://')) return undefined;
  const last = providerId.split('/').pop();
  return last && /^i-[0-9a-f]+$/u.test(last) ? last : undefined;
}

/** `keptLabels`: the label keys kept in NodeInfo.labels (those the service sets itself); none unless told. */
export function toNodeInfo(node: k8s.V1Node, keptLabels: readonly string[] = []): NodeInfo | undefined {
  const instanceId = instanceIdFromProviderId(node.spec?.providerID);
  if (!instanceId || !node.metadata?.name) return undefined;
  const ready = node.status?.conditions?.find((c) => c.type === 'Ready')?.status ?? 'Unknown';
  return {
    name: node.metadata.name,
    uid: node.metadata.uid ?? '',
    instanceId,
    ready,
    privateIps: (node.status?.addresses ?? []).filter((a) => a.type === 'InternalIP').map((a) => a.address),
    unschedulable: node.spec?.unschedulable === true,
    creationTimestamp: node.metadata.creationTimestamp ? new Date(node.metadata.creationTimestamp) : undefined,
    labels: Object.fromEntries(keptLabels.flatMap((key) => {
      const value = node.metadata?.labels?.[key];
      return value === undefined ? [] : [[key, value]];
    })),
  };
}
