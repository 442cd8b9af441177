/**
 * Every Kubernetes permission the service uses, declared once. The Helm chart's ClusterRole
 * (deploy/helm/lifecycle-manager/files/clusterrole-rules.yaml) must grant exactly KUBE_PERMISSIONS and its Role in
 * the release namespace (files/role-rules.yaml) exactly LEASE_PERMISSIONS — a unit test compares them — and
 * `doctor` checks each one with a SelfSubjectAccessReview.
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
  /** Granted by the chart's ClusterRole, or by its Role in the release namespace. */
  readonly grantedBy?: 'ClusterRole' | 'Role';
  /** Set when serve can work without it: what is lost then (serve warns at startup instead of refusing to start). */
  readonly optional?: string;
}

const BINDINGS_OPTIONAL = 'the target groups of the AWS Load Balancer Controller are then found through the region index only';

export const KUBE_PERMISSIONS: readonly KubePermission[] = [
  { apiGroup: '', resource: 'nodes', verb: 'list', why: 'node index (initial list)' },
  { apiGroup: '', resource: 'nodes', verb: 'watch', why: 'node index (watch)' },
  { apiGroup: '', resource: 'nodes', verb: 'get', why: 'read the node before escalating a failed drain' },
  { apiGroup: '', resource: 'nodes', verb: 'patch', why: 'cordon and load-balancer exclusion labels' },
  { apiGroup: '', resource: 'nodes', verb: 'delete', why: 'delete the Node after the drain' },
  { apiGroup: '', resource: 'pods', verb: 'list', why: 'pods on the node (all namespaces)' },
  { apiGroup: '', resource: 'pods', verb: 'watch', why: 'pods on the node, watched while it is drained' },
  { apiGroup: '', resource: 'pods', verb: 'delete', why: 'graceful force-delete after every drain attempt failed' },
  { apiGroup: '', resource: 'pods/eviction', verb: 'create', why: 'evictions (PodDisruptionBudgets respected)' },
  { apiGroup: '', resource: 'events', verb: 'create', why: 'Events on the Node (in default) and on the owners of pods that block a drain (in their namespaces)' },
  { apiGroup: 'policy', resource: 'poddisruptionbudgets', verb: 'list', why: 'the drain plan: budgets that allow no disruption now (index, initial list)' },
  { apiGroup: 'policy', resource: 'poddisruptionbudgets', verb: 'watch', why: 'the drain plan\'s budget index (watch)' },
  { apiGroup: 'storage.k8s.io', resource: 'volumeattachments', verb: 'list', why: 'volume attachment index (initial list): wait for a drained node\'s volumes to detach' },
  { apiGroup: 'storage.k8s.io', resource: 'volumeattachments', verb: 'watch', why: 'volume attachment index (watch)' },
  { apiGroup: '', resource: 'persistentvolumeclaims', verb: 'get', why: 'the volumes of DaemonSet pods, whose attachments stay with the node' },
  // The AWS Load Balancer Controller's TargetGroupBindings: read only, and only when its CRD is installed.
  { apiGroup: 'elbv2.k8s.aws', resource: 'targetgroupbindings', verb: 'list', why: 'the target groups bound to the cluster (TargetGroupBindings)', optional: BINDINGS_OPTIONAL },
  { apiGroup: 'elbv2.k8s.aws', resource: 'targetgroupbindings', verb: 'watch', why: 'the target groups bound to the cluster (TargetGroupBindings)', optional: BINDINGS_OPTIONAL },
];

/** In the namespace of the Leases, per action and per replica (serve's --lease-namespace): the chart's Role. */
export const LEASE_PERMISSIONS: readonly KubePermission[] = [
  { apiGroup: 'coordination.k8s.io', resource: 'leases', verb: 'get', grantedBy: 'Role', why: 'read an action\'s Lease that exists already, and its holder\'s replica Lease, before taking it over' },
  { apiGroup: 'coordination.k8s.io', resource: 'leases', verb: 'list', grantedBy: 'Role', why: 'resume actions after a restart or whose replica stopped renewing its Lease' },
  { apiGroup: 'coordination.k8s.io', resource: 'leases', verb: 'create', grantedBy: 'Role', why: 'claim an action; this replica\'s Lease at startup' },
  { apiGroup: 'coordination.k8s.io', resource: 'leases', verb: 'update', grantedBy: 'Role', why: 'record progress, take over; renew this replica\'s Lease' },
  { apiGroup: 'coordination.k8s.io', resource: 'leases', verb: 'delete', grantedBy: 'Role', why: 'finish an action; this replica\'s Lease at shutdown' },
];

/** Everything serve needs, the Lease permissions placed in `leaseNamespace`; with --dry-run only reads and Events. */
export function servicePermissions(leaseNamespace: string, options: { dryRun?: boolean } = {}): KubePermission[] {
  if (options.dryRun) return KUBE_PERMISSIONS.filter((p) => READ_VERBS.has(p.verb) || (p.resource === 'events' && p.verb === 'create'));
  return [...KUBE_PERMISSIONS, ...LEASE_PERMISSIONS.map((p) => ({ ...p, namespace: leaseNamespace }))];
}

const READ_VERBS: ReadonlySet<string> = new Set(['get', 'list', 'watch']);

/** `""/pods/eviction:create` — identity of a permission for set comparisons (namespace aside). */
export function permissionKey(p: Pick<KubePermission, 'apiGroup' | 'resource' | 'verb'>): string {
  return `${p.apiGroup}/${p.resource}:${p.verb}`;
}

/** `pods/eviction` → { resource: 'pods', subresource: 'eviction' }, as a SelfSubjectAccessReview wants it. */
export function splitResource(resource: string): { resource: string; subresource: string | undefined } {
  const [main, sub] = resource.split('/', 2);
  return { resource: main ?? resource, subresource: sub };
}

/** "delete nodes", "create events in default" — how doctor names a permission (the resources here are unambiguous without their group). */
export function describePermission(p: KubePermission): string {
  return `${p.verb} ${p.resource}${p.namespace ? ` in ${p.namespace}` : ''}`;
}

/** An RBAC rule granting `p`, for a fix message. */
export function ruleFor(p: KubePermission): string {
  return `{apiGroups: ["${p.apiGroup}"], resources: ["${p.resource}"], verbs: ["${p.verb}"]}`;
}
