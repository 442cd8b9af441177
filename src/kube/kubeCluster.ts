import * as k8s from './k8s.js';
import type { BudgetInfo, ClusterPort, DeletionOutcome, EvictionResult, NodeInfo, NodeTaint, PodInfo } from '../lifecycle/ports.js';
import type { KubeClients } from './apiClients.js';
import { hasStatusCause, isConflict, isNotFound, statusCode, statusMessage, toDomainError } from './errors.js';
import { toNodeInfo } from './nodeInfo.js';
import { type BudgetIndex, toBudgetInfo } from './disruptionBudgets.js';
import { changeTaints, withTaint, withoutTaint } from './nodeTaints.js';
import { MERGE_PATCH } from './patch.js';
import type { PodsOnNodes } from './podsOnNodes.js';

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
    labels: pod.metadata?.labels ?? {},
    priorityClassName: pod.spec?.priorityClassName,
    priority: pod.spec?.priority,
    controller: controllerOf(pod),
    hasLocalStorage: (pod.spec?.volumes ?? []).some((v) => v.emptyDir !== undefined),
    // A generic ephemeral volume's claim is named <pod>-<volume> by the ephemeral volume controller.
    claimNames: (pod.spec?.volumes ?? []).flatMap((v) => (v.persistentVolumeClaim ? [v.persistentVolumeClaim.claimName] : v.ephemeral ? [`${pod.metadata?.name ?? ''}-${v.name}`] : [])),
    ready: (pod.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True'),
  };
}

function controllerOf(pod: k8s.V1Pod): PodInfo['controller'] {
  const owner = (pod.metadata?.ownerReferences ?? []).find((o) => o.controller);
  return owner ? { apiVersion: owner.apiVersion, kind: owner.kind, name: owner.name, uid: owner.uid, namespace: pod.metadata?.namespace } : undefined;
}

/** Where reads are answered without an API call (serve); without them every read is a LIST (doctor). */
export interface ClusterIndexes {
  /** The pods of the nodes actions hold (watchPodsOnNode). */
  readonly pods?: PodsOnNodes;
  /** The cluster's PodDisruptionBudgets. */
  readonly budgets?: BudgetIndex;
}

/**
 * The drain's Kubernetes operations, with outcomes as values: 404/409 on an eviction or delete mean the pod is
 * gone (or replaced), 429 and the multiple-PDB 500 mean a PodDisruptionBudget blocks it; everything else is
 * translated into the domain's errors.
 */
export class KubeCluster implements ClusterPort {
  constructor(private readonly clients: KubeClients, private readonly indexes: ClusterIndexes = {}) {}

  async getNode(name: string, signal: AbortSignal): Promise<NodeInfo | undefined> {
    try {
      return toNodeInfo(await this.clients.call(signal, `get node ${name}`, (o) => this.clients.core.readNode({ name }, o)));
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw toDomainError(e, `get node ${name}`, this.clients.authorizerWarmup);
    }
  }

  async cordon(name: string, labels: Readonly<Record<string, string>>, signal: AbortSignal): Promise<'cordoned' | 'gone'> {
    const body = { spec: { unschedulable: true }, ...(Object.keys(labels).length > 0 ? { metadata: { labels } } : {}) };
    try {
      await this.clients.call(signal, `cordon node ${name}`, (o) => this.clients.core.patchNode({ name, body }, o), MERGE_PATCH);
      return 'cordoned';
    } catch (e) {
      if (isNotFound(e)) return 'gone';
      throw toDomainError(e, `cordon node ${name}`, this.clients.authorizerWarmup);
    }
  }

  async taint(name: string, taint: NodeTaint, signal: AbortSignal): Promise<'tainted' | 'gone'> {
    return (await changeTaints(this.clients, name, (t) => withTaint(t, taint), signal)) === 'gone' ? 'gone' : 'tainted';
  }

  async untaint(name: string, key: string, signal: AbortSignal): Promise<'removed' | 'absent' | 'gone'> {
    const outcome = await changeTaints(this.clients, name, (t) => withoutTaint(t, key), signal);
    return outcome === 'changed' ? 'removed' : outcome === 'unchanged' ? 'absent' : 'gone';
  }

  watchPodsOnNode(name: string, until: AbortSignal): void {
    this.indexes.pods?.hold(name, until);
  }

  async listPodsOnNode(name: string, signal: AbortSignal): Promise<PodInfo[]> {
    try {
      const watched = await this.indexes.pods?.read(name, signal);
      if (watched) return watched;
      const list = await this.clients.call(signal, `list pods on node ${name}`, (o) => this.clients.core.listPodForAllNamespaces({ fieldSelector: `spec.nodeName=${name}` }, o));
      const pods = list.items.map(toPodInfo);
      // Where the node's pod watch starts if its drain comes next.
      this.indexes.pods?.remember(name, pods, list.metadata?.resourceVersion);
      return pods;
    } catch (e) {
      throw toDomainError(e, `list pods on node ${name}`, this.clients.authorizerWarmup);
    }
  }

  /**
   * Outcomes as `kubectl drain` and the eviction subresource define them: 404/409 gone (or replaced by a pod of
   * the same name: the UID precondition), 429 and the multiple-budget 500 blocked by a PodDisruptionBudget; a 403
   * (a namespace being terminated, a budget whose disruptionsAllowed is negative, an admission policy), 400 or 422
   * (an admission webhook) refuse this pod only. Everything else is an error of the call.
   */
  async evictPod(pod: PodInfo, signal: AbortSignal): Promise<EvictionResult> {
    const body: k8s.V1Eviction = {
      apiVersion: 'policy/v1', kind: 'Eviction',
      metadata: { name: pod.name, namespace: pod.namespace },
      deleteOptions: { preconditions: { uid: pod.uid } },
    };
    try {
      await this.clients.call(signal, `evict pod ${pod.namespace}/${pod.name}`, (o) => this.clients.core.createNamespacedPodEviction({ name: pod.name, namespace: pod.namespace, body }, o));
      return { outcome: 'evicted' };
    } catch (e) {
      if (isNotFound(e) || isConflict(e)) return { outcome: 'gone' };
      const code = statusCode(e);
      if (code === 429) return { outcome: 'blocked-by-pdb' };
      // The eviction subresource refuses pods covered by more than one budget with a 500; it will not evict them.
      if (code === 500 && /more than one PodDisruptionBudget/u.test(statusMessage(e))) return { outcome: 'blocked-by-pdb' };
      const warmup = code === 403 && this.clients.authorizerWarmup.isWarmupRefusal(e);
      if (!warmup && (code === 403 || code === 400 || code === 422)) {
        return { outcome: 'refused', reason: `HTTP ${code}: ${statusMessage(e)}`, namespaceTerminating: hasStatusCause(e, 'NamespaceTerminating') };
      }
      throw toDomainError(e, `evict pod ${pod.namespace}/${pod.name}`, this.clients.authorizerWarmup);
    }
  }

  async deletePod(pod: PodInfo, gracePeriodSeconds: number, signal: AbortSignal): Promise<DeletionOutcome> {
    try {
      await this.clients.call(signal, `delete pod ${pod.namespace}/${pod.name}`, (o) => this.clients.core.deleteNamespacedPod(
        { name: pod.name, namespace: pod.namespace, gracePeriodSeconds, body: { gracePeriodSeconds, preconditions: { uid: pod.uid } } }, o));
      return 'deleted';
    } catch (e) {
      if (isNotFound(e) || isConflict(e)) return 'gone';
      throw toDomainError(e, `delete pod ${pod.namespace}/${pod.name}`, this.clients.authorizerWarmup);
    }
  }

  async listDisruptionBudgets(signal: AbortSignal): Promise<BudgetInfo[]> {
    const indexed = this.indexes.budgets?.current();
    if (indexed) return indexed;
    const budgets: BudgetInfo[] = [];
    let next: string | undefined;
    try {
      do {
        const page = await this.clients.call(signal, 'list poddisruptionbudgets', (o) => this.clients.policy.listPodDisruptionBudgetForAllNamespaces({ limit: 500, ...(next ? { _continue: next } : {}) }, o));
        budgets.push(...page.items.map(toBudgetInfo));
        next = page.metadata?._continue || undefined;
      } while (next);
      return budgets;
    } catch (e) {
      throw toDomainError(e, 'list poddisruptionbudgets', this.clients.authorizerWarmup);
    }
  }

  async claimVolumeName(namespace: string, claimName: string, signal: AbortSignal): Promise<string | undefined> {
    try {
      const claim = await this.clients.call(signal, `get persistentvolumeclaim ${namespace}/${claimName}`, (o) => this.clients.core.readNamespacedPersistentVolumeClaim({ name: claimName, namespace }, o));
      return claim.spec?.volumeName || undefined;
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw toDomainError(e, `get persistentvolumeclaim ${namespace}/${claimName}`, this.clients.authorizerWarmup);
    }
  }

  async deleteNode(name: string, signal: AbortSignal): Promise<DeletionOutcome> {
    try {
      await this.clients.call(signal, `delete node ${name}`, (o) => this.clients.core.deleteNode({ name }, o));
      return 'deleted';
    } catch (e) {
      if (isNotFound(e)) return 'gone';
      throw toDomainError(e, `delete node ${name}`, this.clients.authorizerWarmup);
    }
  }
}
