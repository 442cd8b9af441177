/**
 * Every Kubernetes permission the service uses, declared once. The Helm chart's ClusterRole
 * (deploy/helm/lifecycle-manager/files/clusterrole-rules.yaml) must grant exactly this set — a unit test compares
 * them — and `doctor` checks each one with a SelfSubjectAccessReview.
 */
export interface KubePermission {
  /** "" for the core group. */
  readonly apiGroup: string;
  /** As RBAC spells it: `pods`, or `pods/eviction` for a subresource. */
  readonly resource: string;
  readonly verb: string;
  /** The namespace the service needs it in; undefined: cluster-scoped or every namespace. */
  readonly namespace?: string;
  /** What the service does with it (shown by doctor). */
  readonly why: string;
}

export const KUBE_PERMISSIONS: readonly KubePermission[] = [
  { apiGroup: '', resource: 'nodes', verb: 'list', why: 'node index (initial list)' },
  { apiGroup: '', resource: 'nodes', verb: 'watch', why: 'node index (watch)' },
  { apiGroup: '', resource: 'nodes', verb: 'get', why: 'read the node before escalating a failed drain' },
  { apiGroup: '', resource: 'nodes', verb: 'patch', why: 'cordon and load-balancer exclusion labels' },
  { apiGroup: '', resource: 'nodes', verb: 'delete', why: 'delete the Node after the drain' },
  { apiGroup: '', resource: 'pods', verb: 'list', why: 'pods on the node (all namespaces)' },
  { apiGroup: '', resource: 'pods', verb: 'delete', why: 'graceful force-delete after every drain attempt failed' },
  { apiGroup: '', resource: 'pods/eviction', verb: 'create', why: 'evictions (PodDisruptionBudgets respected)' },
  { apiGroup: '', resource: 'events', verb: 'create', namespace: 'default', why: 'Events on the Node' },
];

/** `""/pods/eviction:create` — identity of a permission for set comparisons (namespace aside). */
export function permissionKey(p: Pick<KubePermission, 'apiGroup' | 'resource' | 'verb'>): string {
  return `${p.apiGroup}/${p.resource}:${p.verb}`;
}

/** `pods/eviction` → { resource: 'pods', subresource: 'eviction' }, as a SelfSubjectAccessReview wants it. */
export function splitResource(resource: string): { resource: string; subresource: string | undefined } {
  const [main, sub] = resource.split('/', 2);
  return { resource: main ?? resource, subresource: sub };
}

/** "delete nodes", "create pods/eviction in default" — how doctor names a permission. */
export function describePermission(p: KubePermission): string {
  const group = p.apiGroup ? `.${p.apiGroup}` : '';
  return `${p.verb} ${p.resource}${group}${p.namespace ? ` in ${p.namespace}` : ''}`;
}

/** An RBAC rule (as in a ClusterRole) granting `p`, for a fix message. */
export function ruleFor(p: KubePermission): string {
  return `{apiGroups: ["${p.apiGroup}"], resources: ["${p.resource}"], verbs: ["${p.verb}"]}`;
}
