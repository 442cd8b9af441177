import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as k8s from '@kubernetes/client-node';
import { startTestCluster, type TestCluster } from './cluster.js';
import { type Moto, startMoto } from './moto.js';
import { SERVICE_USER, bindClusterRole, bindRole, kubeconfigFor, shippedClusterRoleRules, shippedRoleRules } from './rbac.js';
import { installTargetGroupBindingCrd } from './targetGroupBindings.js';

export const repoRoot = resolve(fileURLToPath(new URL('.', import.meta.url)), '..', '..').replace(/\/dist$/u, '');

/** The namespace the service keeps its per-action Leases in during tests (its default). */
export const SERVICE_NAMESPACE = 'lifecycle-manager';

/** What tests need to reach the harness; plain data so it can cross from the global setup to test workers. */
export interface HarnessInfo {
  readonly repoRoot: string;
  readonly adminKubeconfigPath: string;
  readonly serviceKubeconfigPath: string;
  readonly limitedKubeconfigPath: string;
  /** An identity with no permissions until a test binds it some (one verb short of the shipped role, say). */
  readonly partialKubeconfigPath: string;
  readonly motoEndpoint: string;
  readonly workDir: string;
  readonly apiserverPort: number;
}

export interface Harness {
  readonly info: HarnessInfo;
  readonly cluster: TestCluster;
  readonly moto: Moto;
  stop(): Promise<void>;
}

/**
 * Starts kube-apiserver + etcd and moto (binaries from scripts/testinfra.mjs), installs the shipped ClusterRole
 * bound to the service's identity and the AWS Load Balancer Controller's TargetGroupBinding CRD (as on EKS; leave it
 * out with `targetGroupBindingCrd: false`), and writes one kubeconfig per identity. Everything binds 127.0.0.1.
 */
export async function startHarness(options: { targetGroupBindingCrd?: boolean } = {}): Promise<Harness> {
  const { ensureTestCluster, ensureMoto } = (await import(join(repoRoot, 'scripts', 'testinfra.mjs'))) as {
    ensureTestCluster(): string; ensureMoto(): string;
  };
  const workDir = mkdtempSync(join(tmpdir(), 'lm-harness-'));
  const [clusterStart, motoStart] = await Promise.allSettled([
    startTestCluster(ensureTestCluster(), { dir: join(workDir, 'cluster'), logFile: join(workDir, 'apiserver.log') }),
    startMoto(ensureMoto(), repoRoot, { logFile: join(workDir, 'moto.log') }),
  ]);
  if (clusterStart.status === 'rejected' || motoStart.status === 'rejected') {
    // Leave nothing running when only one of the two came up.
    if (clusterStart.status === 'fulfilled') await clusterStart.value.stop();
    if (motoStart.status === 'fulfilled') await motoStart.value.stop();
    throw clusterStart.status === 'rejected' ? clusterStart.reason : (motoStart as PromiseRejectedResult).reason;
  }
  const cluster = clusterStart.value;
  const moto = motoStart.value;
  const admin = new k8s.KubeConfig();
  admin.loadFromFile(cluster.kubeconfigPath);
  await bindClusterRole(admin, 'lifecycle-manager', shippedClusterRoleRules(repoRoot), SERVICE_USER);
  await bindRole(admin, SERVICE_NAMESPACE, 'lifecycle-manager', shippedRoleRules(repoRoot), SERVICE_USER);
  if (options.targetGroupBindingCrd ?? true) await installTargetGroupBindingCrd(admin, repoRoot);
  const serviceKubeconfigPath = join(workDir, 'service.kubeconfig');
  writeFileSync(serviceKubeconfigPath, kubeconfigFor(cluster.kubeconfigPath, 'lifecycle-manager'));
  const limitedKubeconfigPath = join(workDir, 'limited.kubeconfig');
  writeFileSync(limitedKubeconfigPath, kubeconfigFor(cluster.kubeconfigPath, 'limited'));
  const partialKubeconfigPath = join(workDir, 'partial.kubeconfig');
  writeFileSync(partialKubeconfigPath, kubeconfigFor(cluster.kubeconfigPath, 'partial'));
  return {
    cluster, moto,
    info: {
      repoRoot, adminKubeconfigPath: cluster.kubeconfigPath, serviceKubeconfigPath, limitedKubeconfigPath, partialKubeconfigPath,
      motoEndpoint: moto.endpoint, workDir, apiserverPort: cluster.port,
    },
    stop: async () => {
      await Promise.allSettled([moto.stop(), cluster.stop()]);
    },
  };
}

/** Polls `check` until it returns a value other than undefined/false, or fails after `timeoutMs`. */
export async function eventually<T>(what: string, check: () => Promise<T | undefined | false>, timeoutMs: number, everyMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined && v !== false) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs}ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export function adminKubeConfig(info: HarnessInfo): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(info.adminKubeconfigPath);
  return kc;
}
