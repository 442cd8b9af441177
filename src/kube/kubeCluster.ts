import * as k8s from '@kubernetes/client-node';
import type { ClusterPort, DeletionOutcome, EvictionOutcome, NodeInfo, PodInfo } from '../lifecycle/ports.js';
import type { KubeClients } from './apiClients.js';
import { isConflict, isNotFound, statusCode, statusMessage, toDomainError } from './errors.js';
import { toNodeInfo } from './nodeDirectory.js';

const MIRROR_ANNOTATION = 'kubernetes.io/config.mirror';

export function toPodInfo(pod: k8s.V1Pod): PodInfo {
  return {
    namespace: pod.metadata?.namespace ?? 'default',
    name: pod.metadata?.name ?? '',
    uid: pod.metadata?.uid ?? '',
    phase: pod.status?.phase ?? 'Unknown',
    ownerKinds: (pod.metadata?.ownerReferences ?? []).map((o) => o.kind),
    isMirror: pod.metadata?.annotations?.[MIRROR_ANNOTATION] !== undefined,
    deletionTimestamp: pod.metadata?.deletionTimestamp ? new Date(pod.metadata.deletionTimestamp) : undefined,
    terminationGracePeriodSeconds: pod.spec?.terminationGracePeriodSeconds,
    podIps: (pod.status?.podIPs ?? []).map((p) => p.ip).filter((ip) => ip && ip !== pod.status?.hostIP),
  };
}

/**
 * The drain's Kubernetes operations, with outcomes as values: 404/409 on an eviction or delete mean the pod is
 * gone (or replaced), 429 and the multiple-PDB 500 mean a PodDisruptionBudget blocks it; everything else is
 * translated into the domain's errors.
 */
export class KubeCluster implements ClusterPort {
  constructor(private readonly clients: KubeClients) {}

  async getNode(name: string, signal: AbortSignal): Promise<NodeInfo | undefined> {
    try {
      return toNodeInfo(await this.clients.core.readNode({ name }, this.clients.options(signal)));
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw toDomainError(e, `get node ${name}`, this.clients.authorizerWarmup);
    }
  }

  async cordon(name: string, labels: Readonly<Record<string, string>>, signal: AbortSignal): Promise<'cordoned' | 'gone'> {
    const body = { spec: { unschedulable: true }, ...(Object.keys(labels).length > 0 ? { metadata: { labels } } : {}) };
    try {
      await this.clients.core.patchNode({ name, body }, this.clients.options(signal, contentType(k8s.PatchStrategy.MergePatch)));
      return 'cordoned';
    } catch (e) {
      if (isNotFound(e)) return 'gone';
      throw toDomainError(e, `cordon node ${name}`, this.clients.authorizerWarmup);
    }
  }

  async listPodsOnNode(name: string, signal: AbortSignal): Promise<PodInfo[]> {
    try {
      const list = await this.clients.core.listPodForAllNamespaces({ fieldSelector: `spec.nodeName=${name}` }, this.clients.options(signal));
      return list.items.map(toPodInfo);
    } catch (e) {
      throw toDomainError(e, `list pods on node ${name}`, this.clients.authorizerWarmup);
    }
  }

  async evictPod(pod: PodInfo, signal: AbortSignal): Promise<EvictionOutcome> {
    const body: k8s.V1Eviction = {
      apiVersion: 'policy/v1', kind: 'Eviction',
      metadata: { name: pod.name, namespace: pod.namespace },
      deleteOptions: { preconditions: { uid: pod.uid } },
    };
    try {
      await this.clients.core.createNamespacedPodEviction({ name: pod.name, namespace: pod.namespace, body }, this.clients.options(signal));
      return 'evicted';
    } catch (e) {
      if (isNotFound(e) || isConflict(e)) return 'gone';
      if (statusCode(e) === 429) return 'blocked-by-pdb';
      // The eviction subresource refuses pods covered by more than one budget with a 500; it will not evict them.
      if (statusCode(e) === 500 && /more than one PodDisruptionBudget/u.test(statusMessage(e))) return 'blocked-by-pdb';
      throw toDomainError(e, `evict pod ${pod.namespace}/${pod.name}`, this.clients.authorizerWarmup);
    }
  }

  async deletePod(pod: PodInfo, gracePeriodSeconds: number, signal: AbortSignal): Promise<DeletionOutcome> {
    try {
      await this.clients.core.deleteNamespacedPod(
        { name: pod.name, namespace: pod.namespace, gracePeriodSeconds, body: { gracePeriodSeconds, preconditions: { uid: pod.uid } } },
        this.clients.options(signal),
      );
      return 'deleted';
    } catch (e) {
      if (isNotFound(e) || isConflict(e)) return 'gone';
      throw toDomainError(e, `delete pod ${pod.namespace}/${pod.name}`, this.clients.authorizerWarmup);
    }
  }

  async deleteNode(name: string, signal: AbortSignal): Promise<DeletionOutcome> {
    try {
      await this.clients.core.deleteNode({ name }, this.clients.options(signal));
      return 'deleted';
    } catch (e) {
      if (isNotFound(e)) return 'gone';
      throw toDomainError(e, `delete node ${name}`, this.clients.authorizerWarmup);
    }
  }
}

function contentType(value: string): k8s.Middleware {
  return {
    pre: async (context) => {
      context.setHeaderParam('Content-Type', value);
      return context;
    },
    post: async (context) => context,
  };
}
