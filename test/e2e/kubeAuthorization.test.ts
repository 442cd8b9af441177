import * as k8s from '@kubernetes/client-node';
import { afterAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { createKubeClients } from '../../src/kube/apiClients.js';
import { AuthorizerWarmup } from '../../src/kube/authorizerWarmup.js';
import { KubeCluster } from '../../src/kube/kubeCluster.js';
import { AccessDeniedError, TransientError } from '../../src/lifecycle/errors.js';
import { Metrics } from '../../src/observability/metrics.js';
import { adminKubeConfig, eventually } from '../harness/infra.js';
import { bindClusterRole } from '../harness/rbac.js';

/**
 * How the Kubernetes adapter maps the real apiserver's 403s: a missing permission is access denied at once; a 403
 * for a request authorized before, while nothing else is authorized, is retried as the authorizer warming up (an
 * apiserver that just restarted refuses everyone until its RBAC caches sync; CI once saw that fail a drain attempt).
 * Each test acts as its own user (admin impersonating it), so RBAC changes here touch nothing else.
 */
const info = inject('harness');
const admin = adminKubeConfig(info);
const rbac = admin.makeApiClient(k8s.RbacAuthorizationV1Api);
const created: string[] = [];
const signal = new AbortController().signal;

afterAll(async () => {
  for (const name of created) {
    await rbac.deleteClusterRoleBinding({ name }).catch(() => undefined);
    await rbac.deleteClusterRole({ name }).catch(() => undefined);
  }
});

function clusterAs(user: string, warmup: AuthorizerWarmup): KubeCluster {
  const kc = new k8s.KubeConfig();
  kc.loadFromOptions({
    clusters: admin.clusters,
    users: admin.users.map((u) => (u.name === admin.getCurrentUser()?.name ? { ...u, impersonateUser: user } : u)),
    contexts: admin.contexts,
    currentContext: admin.getCurrentContext(),
  });
  return new KubeCluster(createKubeClients(kc, new Metrics({ defaultMetrics: false }), warmup));
}

async function grant(user: string, rules: k8s.V1PolicyRule[]): Promise<void> {
  created.push(user);
  await bindClusterRole(admin, user, rules, user);
}

const LIST_PODS: k8s.V1PolicyRule = { apiGroups: [''], resources: ['pods'], verbs: ['list'] };
const GET_NODES: k8s.V1PolicyRule = { apiGroups: [''], resources: ['nodes'], verbs: ['get'] };

/** The first error `call` throws once the apiserver has taken the permission away. */
async function firstRefusal(call: () => Promise<unknown>): Promise<unknown> {
  return eventually('the apiserver to refuse the request', async () => call().then(() => undefined, (e: unknown) => e), 10_000, 100);
}

describe('403s from the real apiserver', () => {
  it('a verb never granted is access denied at once, even right after other requests were authorized', async () => {
    const user = 'authz-never-granted';
    await grant(user, [LIST_PODS]);
    const cluster = clusterAs(user, new AuthorizerWarmup());
    await eventually('list pods allowed', async () => cluster.listPodsOnNode('no-such-node', signal).then(() => true), 10_000, 100);
    const refused = await cluster.cordon('no-such-node', {}, signal).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(AccessDeniedError);
    expect(String(refused)).toMatch(/access denied calling cordon node no-such-node: nodes "no-such-node" is forbidden/u);
  });

  it('while nothing is authorized, a request allowed before is retried within the window, then access denied', async () => {
    const user = 'authz-all-refused';
    await grant(user, [LIST_PODS]);
    const cluster = clusterAs(user, new AuthorizerWarmup(1_500));
    await eventually('list pods allowed', async () => cluster.listPodsOnNode('n', signal).then(() => true), 10_000, 100);
    await rbac.deleteClusterRoleBinding({ name: user });

    const first = await firstRefusal(() => cluster.listPodsOnNode('n', signal));
    expect(first).toBeInstanceOf(TransientError);
    expect(String(first)).toMatch(/HTTP 403 although this identity was authorized before/u);
    const later = await eventually('the window to close', async () => {
      const e = await cluster.listPodsOnNode('n', signal).catch((err: unknown) => err);
      return e instanceof AccessDeniedError ? e : undefined;
    }, 10_000, 100);
    expect(String(later)).toMatch(/access denied calling list pods on node n: pods is forbidden/u);
  });

  it('a permission taken away while other requests are still authorized is access denied from then on', async () => {
    const user = 'authz-revoked';
    await grant(user, [LIST_PODS, GET_NODES]);
    const cluster = clusterAs(user, new AuthorizerWarmup());
    await eventually('both allowed', async () => (await cluster.listPodsOnNode('n', signal), await cluster.getNode('n', signal), true), 10_000, 100);
    await bindClusterRole(admin, user, [LIST_PODS], user);

    // The first refusal alone cannot be told from a restarting apiserver...
    expect(await firstRefusal(() => cluster.getNode('n', signal))).toBeInstanceOf(TransientError);
    // ...but once something else is authorized, it can.
    await cluster.listPodsOnNode('n', signal);
    expect(await cluster.getNode('n', signal).catch((e: unknown) => e)).toBeInstanceOf(AccessDeniedError);
  });
});
