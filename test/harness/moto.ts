import { join } from 'node:path';
import { type StartedProcess, startProcess } from './processes.js';

export interface LifecycleActionRecord {
  readonly instanceId: string;
  readonly autoScalingGroupName: string;
  readonly lifecycleHookName: string;
  readonly token: string;
  readonly heartbeats: number;
  readonly result: 'CONTINUE' | 'ABANDON' | null;
  readonly resultSource: 'complete' | 'expired' | 'skipped' | 'hook-deleted' | 'group-deleted' | 'pool-deleted' | null;
  readonly completeCalls: number;
  readonly rejectedCompleteCalls: number;
  readonly startedAt?: string;
  readonly completedAt?: string | null;
  /** The wait state the action started in: Terminating:Wait, Warmed:Pending:Wait or Warmed:Terminating:Wait. */
  readonly lifecycleState?: string;
  /** Origin / Destination of the action's message (AutoScalingGroup, WarmPool, EC2). */
  readonly origin?: string;
  readonly destination?: string;
}

export interface Moto {
  readonly endpoint: string;
  /** Environment for AWS SDK clients (ours and the service's) pointing at this server. */
  readonly awsEnv: Record<string, string>;
  /** Every lifecycle action started since the last reset, as the emulator saw it. */
  actions(): Promise<LifecycleActionRecord[]>;
  stop(): Promise<void>;
  readonly process: StartedProcess;
}

export const REGION = 'us-east-1';

/** Starts moto with our lifecycle-hook extension (test/aws/moto_ext.py) on a free loopback port. */
export async function startMoto(python: string, repoRoot: string, options: { logFile?: string } = {}): Promise<Moto> {
  const proc = await startProcess({
    name: 'moto', command: python, args: [join(repoRoot, 'test', 'aws', 'moto_ext.py'), '-H', '127.0.0.1', '-p', '0'],
    env: { ...process.env, PYTHONUNBUFFERED: '1' }, readyPattern: /^READY (http:\/\/127\.0\.0\.1:\d+)$/u, readyTimeoutMs: 60_000,
    ...(options.logFile ? { logFile: options.logFile } : {}),
  });
  const endpoint = proc.ready[1]!;
  return {
    endpoint,
    process: proc,
    awsEnv: motoAwsEnv(endpoint),
    actions: async () => {
      const res = await fetch(`${endpoint}/_lifecycle/actions`);
      if (!res.ok) throw new Error(`moto /_lifecycle/actions answered ${res.status}`);
      return ((await res.json()) as { actions: LifecycleActionRecord[] }).actions;
    },
    stop: () => proc.stop(5_000),
  };
}

export function motoAwsEnv(endpoint: string): Record<string, string> {
  return {
    AWS_ENDPOINT_URL: endpoint,
    AWS_REGION: REGION,
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
    AWS_EC2_METADATA_DISABLED: 'true',
    // On Node 20 the SDK's notice about its future Node 22 requirement is noise in test logs (cliConventions.test.ts
    // checks that users get it as a log line).
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  };
}
