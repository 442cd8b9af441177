import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import * as k8s from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminKubeConfig, eventually } from '../harness/infra.js';
import { startKubeFaultProxy } from '../harness/kubeFaultProxy.js';
import { startProcess } from '../harness/processes.js';
import { bindClusterRole, bindRole, shippedClusterRoleRules, shippedRoleRules } from '../harness/rbac.js';
import { e2eFixture } from './fixture.js';

/**
 * Start only when able to work (every permission and the queue, checked at startup, one clear line per missing
 * permission), and hand everything back on shutdown, including what the last long poll received.
 */
const f = e2eFixture({ graceScale: 0.05 });
const admin = adminKubeConfig(f.info);
const rbac = admin.makeApiClient(k8s.RbacAuthorizationV1Api);
const users: string[] = [];
beforeAll(() => f.start());
afterAll(async () => {
  await f.stop();
  for (const name of users) {
    await rbac.deleteClusterRoleBinding({ name }).catch(() => undefined);
    await rbac.deleteClusterRole({ name }).catch(() => undefined);
  }
});

/** A kubeconfig acting as `user` (admin impersonating it), bound to the shipped roles minus `drop`. */
async function identityWithout(user: string, drop: { resource: string; verb: string }): Promise<string> {
  users.push(user);
  const rules = shippedClusterRoleRules(f.info.repoRoot).map((r) => (r.resources?.includes(drop.resource) ? { ...r, resources: r.resources.filter((x) => x !== drop.resource) } : r))
    .filter((r) => (r.resources ?? []).length > 0);
  const all = shippedClusterRoleRules(f.info.repoRoot).filter((r) => r.resources?.includes(drop.resource))
    .map((r) => ({ ...r, resources: [drop.resource], verbs: r.verbs.filter((v) => v !== drop.verb) })).filter((r) => r.verbs.length > 0);
  await bindClusterRole(admin, user, [...rules, ...all], user);
  await bindRole(admin, 'lifecycle-manager', user, shippedRoleRules(f.info.repoRoot), user);
  const kc = new k8s.KubeConfig();
  kc.loadFromOptions({
    clusters: admin.clusters,
    users: admin.users.map((u) => (u.name === admin.getCurrentUser()?.name ? { ...u, impersonateUser: user } : u)),
    contexts: admin.contexts, currentContext: admin.getCurrentContext(),
  });
  const path = join(f.info.workDir, `${user}.kubeconfig`);
  writeFileSync(path, kc.exportConfig(), { mode: 0o600 });
  return path;
}

describe('start only when able to work', () => {
  it('exits non-zero with one line naming the missing verb, resource and namespace', async () => {
    const world = await f.world({ instances: 1, heartbeatTimeoutSeconds: 30 });
    const kubeconfig = await identityWithout('startup-no-eviction', { resource: 'pods/eviction', verb: 'create' });
    const proc = await startProcess({
      name: 'lifecycle-manager', command: process.execPath,
      args: [join(f.info.repoRoot, 'dist', 'src', 'cli', 'main.js'), 'serve', '--local-mode', kubeconfig, '--queue-name', world.queueName, '--metrics-address', '127.0.0.1:0'],
      env: { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '/tmp', ...f.awsEnv },
      readyPattern: /^$/u, readyTimeoutMs: 30_000,
    }).catch((e: Error) => e);
    expect(proc).toBeInstanceOf(Error);
    const message = (proc as Error).message;
    expect(message).toMatch(/exited with 1 before it was ready/u);
    const lines = message.split('last output:\n')[1]!.split('\n').filter((l) => l.startsWith('lifecycle-manager: '));
    expect(lines).toEqual([
      'lifecycle-manager: missing Kubernetes permission for kubeconfig context \'admin\' (as startup-no-eviction): create pods/eviction in all namespaces (evictions (PodDisruptionBudgets respected)); grant {apiGroups: [""], resources: ["pods/eviction"], verbs: ["create"]} in the ClusterRole bound to it',
    ]);
    expect(message).not.toMatch(/\n\s+at /u); // no stack trace
  });
});

describe('stopped while starting', () => {
  it('exits 0, not as a failed startup, when SIGTERM comes before its replica Lease exists', async () => {
    const world = await f.world({ instances: 1, heartbeatTimeoutSeconds: 60 });
    // The replica Lease's creation is held 10 s on its way to the apiserver: SIGTERM lands while it is pending.
    const kube = await startKubeFaultProxy({
      kubeconfigPath: f.info.serviceKubeconfigPath, outputKubeconfigPath: join(f.info.workDir, `starting-${world.id}.kubeconfig`),
      tls: { certFile: join(f.info.workDir, 'cluster', 'serving.crt'), keyFile: join(f.info.workDir, 'cluster', 'serving.key') },
      rules: [{ method: 'POST', path: /\/leases(\?|$)/u, fault: 'latency', latencyMs: 10_000, times: 1 }],
    });
    try {
      const lm = await f.serve(world, ['--with-deregister=false'], { kubeconfigPath: kube.kubeconfigPath });
      await eventually('the replica Lease to be on its way', async () => kube.requests.some((r) => r.method === 'POST' && r.url.includes('/leases')), 20_000, 50);
      lm.process.child.kill('SIGTERM');
      expect(await lm.stop()).toBe(0);
      expect(lm.countLogs(/cannot create this replica's Lease/u)).toBe(0);
    } finally {
      await kube.close();
    }
  });
});

describe('shutdown hands messages back', () => {
  it('returns what the last long poll received at once, instead of stranding it for the visibility timeout', async () => {
    const world = await f.world({ instances: 1, heartbeatTimeoutSeconds: 60 });
    const [victim] = world.instances;
    // A long poll of 10 s and a visibility timeout of 600 s: a stranded message would stay invisible for 10 minutes.
    const lm = await f.serve(world, ['--polling-interval', '10', '--visibility-timeout', '600', '--log-level', 'debug', '--with-deregister=false']);
    const polls = lm.countLogs(/polling for messages from queue/u);
    await eventually('a long poll to be open', async () => lm.countLogs(/polling for messages from queue/u) > polls, 20_000, 50);
    lm.process.child.kill('SIGTERM');
    // The termination's message arrives while that poll is still open.
    await world.terminate(victim!.instanceId);
    // The poll may also hold the hook's test notification, which AWS posts when the hook is created.
    const line = await lm.waitForLog(/shutting down: returned [1-9]\d* message\(s\) the last poll received to the queue/u, 30_000);
    const returned = Number(/returned (\d+) message/u.exec(line)![1]);
    expect(await lm.stop()).toBe(0);
    const visible = await f.aws.sqs.send(new GetQueueAttributesCommand({ QueueUrl: world.queueUrl, AttributeNames: ['ApproximateNumberOfMessages'] }));
    expect(Number(visible.Attributes?.['ApproximateNumberOfMessages'])).toBe(returned);
    // The next replica takes it at once.
    await f.serve(world, ['--polling-interval', '1', '--with-deregister=false']);
    const action = await eventually('the action to be completed', async () => (await f.actions(victim!.instanceId)).find((a) => a.result !== null), 60_000, 300);
    expect({ result: action.result, completes: action.completeCalls }).toEqual({ result: 'CONTINUE', completes: 1 });
  });
});
