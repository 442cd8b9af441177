import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';

export const SERVICE_USER = 'system:serviceaccount:lifecycle-manager:lifecycle-manager';
export const LIMITED_USER = 'system:serviceaccount:lifecycle-manager:limited';
export const PARTIAL_USER = 'system:serviceaccount:lifecycle-manager:partial';

/** The ClusterRole rules the Helm chart ships (one file, shared with the chart). */
export function shippedClusterRoleRules(repoRoot: string): k8s.V1PolicyRule[] {
  const text = readFileSync(join(repoRoot, 'deploy', 'helm', 'lifecycle-manager', 'files', 'clusterrole-rules.yaml'), 'utf8');
  return k8s.loadYaml<k8s.V1PolicyRule[]>(text);
}

/** The namespaced Role rules the Helm chart ships for the release namespace (Leases). */
export function shippedRoleRules(repoRoot: string): k8s.V1PolicyRule[] {
  const text = readFileSync(join(repoRoot, 'deploy', 'helm', 'lifecycle-manager', 'files', 'role-rules.yaml'), 'utf8');
  return k8s.loadYaml<k8s.V1PolicyRule[]>(text);
}

/** Creates `namespace` and binds `rules` there as Role `name` to `user` (idempotent). */
export async function bindRole(kc: k8s.KubeConfig, namespace: string, name: string, rules: k8s.V1PolicyRule[], user: string): Promise<void> {
  const core = kc.makeApiClient(k8s.CoreV1Api);
  await core.createNamespace({ body: { metadata: { name: namespace } } }).catch((e: { code?: number }) => { if (e.code !== 409) throw e; });
  const rbac = kc.makeApiClient(k8s.RbacAuthorizationV1Api);
  await rbac.createNamespacedRole({ namespace, body: { metadata: { name }, rules } }).catch((e: { code?: number }) => { if (e.code !== 409) throw e; });
  await rbac.createNamespacedRoleBinding({ namespace, body: {
    metadata: { name },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name },
    subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: user }],
  } }).catch((e: { code?: number }) => { if (e.code !== 409) throw e; });
}

/** Binds `rules` as ClusterRole `name` to `user` (idempotent). */
export async function bindClusterRole(kc: k8s.KubeConfig, name: string, rules: k8s.V1PolicyRule[], user: string): Promise<void> {
  const rbac = kc.makeApiClient(k8s.RbacAuthorizationV1Api);
  await rbac.createClusterRole({ body: { metadata: { name }, rules } }).catch(async (e: { code?: number }) => {
    if (e.code !== 409) throw e;
    await rbac.replaceClusterRole({ name, body: { metadata: { name }, rules } });
  });
  await rbac.createClusterRoleBinding({ body: {
    metadata: { name },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name },
    subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: user }],
  } }).catch((e: { code?: number }) => { if (e.code !== 409) throw e; });
}

/** A copy of the harness kubeconfig whose current context is `context` (what the service is given). */
export function kubeconfigFor(adminKubeconfig: string, context: string): string {
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(adminKubeconfig);
  kc.setCurrentContext(context);
  return kc.exportConfig();
}
