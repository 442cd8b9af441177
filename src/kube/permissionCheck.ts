import type { AccessReviewer } from '../doctor/ports.js';
import { retryUntil } from '../lifecycle/retryUntil.js';
import type { Logger } from '../observability/logger.js';
import { type KubePermission, ruleFor } from './permissions.js';

/** "create pods/eviction in all namespaces", "create leases in namespace ops", "delete nodes (cluster-scoped)". */
export function describeScope(p: KubePermission): string {
  if (p.namespace) return `${p.verb} ${p.resource}${p.apiGroup ? ` (${p.apiGroup})` : ''} in namespace ${p.namespace}`;
  const clusterScoped = p.resource === 'nodes';
  return `${p.verb} ${p.resource}${clusterScoped ? ' (cluster-scoped)' : ' in all namespaces'}`;
}

/**
 * Asks the apiserver (SelfSubjectAccessReview) for every permission serve needs, all at once, retrying transient
 * failures. Returns one line per permission that is missing, naming the verb, the resource and the namespace, what
 * it is for and the rule that grants it; empty when everything is granted.
 */
export async function missingPermissions(reviewer: AccessReviewer, permissions: readonly KubePermission[], log: Logger, signal: AbortSignal): Promise<string[]> {
  const results = await Promise.all(permissions.map(async (p) => ({
    p, allowed: await retryUntil(() => reviewer.allowed(p, signal), signal, { operation: `SelfSubjectAccessReview for ${p.verb} ${p.resource}`, log }),
  })));
  return results.filter((r) => !r.allowed).map(({ p }) =>
    `missing Kubernetes permission for ${reviewer.identity}: ${describeScope(p)} (${p.why}); grant ${ruleFor(p)} in the ${p.grantedBy === 'Role' ? `Role of namespace ${p.namespace}` : 'ClusterRole'} bound to it${p.optional ? `; without it ${p.optional}` : ''}`);
}
