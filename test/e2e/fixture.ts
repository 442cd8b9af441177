import { inject } from 'vitest';
import { testAwsClients } from '../harness/awsClients.js';
import { adminKubeConfig } from '../harness/infra.js';
import { FakeKubelet } from '../harness/kubelet.js';
import { type LifecycleManagerProcess, startLifecycleManager } from '../harness/lifecycleManager.js';
import { type LifecycleActionRecord, motoAwsEnv } from '../harness/moto.js';
import { type World, type WorldOptions, buildWorld } from '../harness/world.js';

/** Per-file access to the shared harness: AWS clients, a fake kubelet, worlds and service processes. */
export function e2eFixture(options: { graceScale?: number } = {}) {
  const info = inject('harness');
  const aws = testAwsClients(info.motoEndpoint);
  const kubelet = new FakeKubelet(adminKubeConfig(info), { graceScale: options.graceScale ?? 0.02 });
  const services: LifecycleManagerProcess[] = [];
  return {
    info,
    aws,
    kubelet,
    awsEnv: motoAwsEnv(info.motoEndpoint),
    async start(): Promise<void> {
      await kubelet.start();
    },
    world: (o: WorldOptions): Promise<World> => buildWorld(aws, kubelet, o),
    /** Lifecycle actions as the emulator recorded them (heartbeats, completions, expiry). */
    async actions(instanceId?: string): Promise<LifecycleActionRecord[]> {
      const res = await fetch(`${info.motoEndpoint}/_lifecycle/actions`);
      const all = ((await res.json()) as { actions: LifecycleActionRecord[] }).actions;
      return instanceId ? all.filter((a) => a.instanceId === instanceId) : all;
    },
    async serve(world: Pick<World, 'queueName'>, flags: readonly string[] = [], extra: { kubeconfigPath?: string; env?: Record<string, string> } = {}): Promise<LifecycleManagerProcess> {
      const p = await startLifecycleManager({
        repoRoot: info.repoRoot, kubeconfigPath: extra.kubeconfigPath ?? info.serviceKubeconfigPath, queueName: world.queueName,
        awsEnv: motoAwsEnv(info.motoEndpoint), flags, ...(extra.env ? { env: extra.env } : {}),
        logFile: `${info.workDir}/lifecycle-manager-${world.queueName}-${services.length}.log`,
      });
      services.push(p);
      return p;
    },
    async stop(): Promise<void> {
      await Promise.allSettled(services.map((s) => s.stop()));
      kubelet.stop();
    },
  };
}
