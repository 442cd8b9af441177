import type * as k8s from '@kubernetes/client-node';
import { TransientError } from '../lifecycle/errors.js';
import type { NodeTaint } from '../lifecycle/ports.js';
import type { KubeClients } from './apiClients.js';
import { isConflict, isNotFound, toDomainError } from './errors.js';
import { MERGE_PATCH } from './patch.js';

const MAX_CONFLICTS = 5;

/**
 * Sets or removes one taint by key with a read-modify-write of `spec.taints` (a merge patch replaces the whole list:
 * Node taints have no merge key), guarded by the Node's resourceVersion so a concurrent change (the node lifecycle
 * controller's own taints, another tool's) is never lost: a conflict is read again and retried.
 */
export async function changeTaints(
  clients: KubeClients, name: string, change: (taints: readonly k8s.V1Taint[]) => k8s.V1Taint[] | undefined, signal: AbortSignal,
): Promise<'changed' | 'unchanged' | 'gone'> {
  for (let attempt = 1; ; attempt++) {
    let node: k8s.V1Node;
    try {
      node = await clients.call(signal, `get node ${name}`, (o) => clients.core.readNode({ name }, o));
    } catch (e) {
      if (isNotFound(e)) return 'gone';
      throw toDomainError(e, `get node ${name}`, clients.authorizerWarmup);
    }
    const next = change(node.spec?.taints ?? []);
    if (!next) return 'unchanged';
    const body = { metadata: { resourceVersion: node.metadata?.resourceVersion }, spec: { taints: next } };
    try {
      await clients.call(signal, `taint node ${name}`, (o) => clients.core.patchNode({ name, body }, o), MERGE_PATCH);
      return 'changed';
    } catch (e) {
      if (isNotFound(e)) return 'gone';
      if (isConflict(e) && attempt < MAX_CONFLICTS) continue;
      if (isConflict(e)) throw new TransientError(`taint node ${name}: the Node kept changing (${MAX_CONFLICTS} conflicts)`, false);
      throw toDomainError(e, `taint node ${name}`, clients.authorizerWarmup);
    }
  }
}

/** `taints` with `taint` in place of any taint of the same key; undefined when it is already there as wanted. */
export function withTaint(taints: readonly k8s.V1Taint[], taint: NodeTaint): k8s.V1Taint[] | undefined {
  const current = taints.find((t) => t.key === taint.key);
  if (current && current.value === taint.value && current.effect === taint.effect) return undefined;
  return [...taints.filter((t) => t.key !== taint.key), { key: taint.key, value: taint.value, effect: taint.effect, timeAdded: new Date() }];
}

/** `taints` without the one of `key`; undefined when there is none. */
export function withoutTaint(taints: readonly k8s.V1Taint[], key: string): k8s.V1Taint[] | undefined {
  return taints.some((t) => t.key === key) ? taints.filter((t) => t.key !== key) : undefined;
}
