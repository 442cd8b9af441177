import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type StartedProcess, startProcess } from './processes.js';

export interface TestCluster {
  readonly kubeconfigPath: string;
  readonly dir: string;
  readonly port: number;
  /** Stops the apiserver and etcd (state stays in `dir`). */
  stop(): Promise<void>;
  /** Starts them again on the same port with the same state (fault injection: apiserver outage). */
  restart(): Promise<void>;
}

/** Starts the real kube-apiserver + embedded etcd built by scripts/testinfra.mjs, on 127.0.0.1. */
export async function startTestCluster(binary: string, options: { dir?: string; logFile?: string } = {}): Promise<TestCluster> {
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'lm-cluster-'));
  let proc: StartedProcess = await launch(binary, dir, 0, options.logFile);
  const kubeconfigPath = proc.ready[1]!;
  const port = Number(/server: "https:\/\/127\.0\.0\.1:(\d+)"/u.exec(await import('node:fs').then((fs) => fs.readFileSync(kubeconfigPath, 'utf8')))?.[1]);
  return {
    kubeconfigPath, dir, port,
    stop: () => proc.stop(15_000),
    restart: async () => {
      await proc.stop(15_000);
      proc = await launch(binary, dir, port, options.logFile);
    },
  };
}

function launch(binary: string, dir: string, port: number, logFile: string | undefined): Promise<StartedProcess> {
  return startProcess({
    name: 'testcluster', command: binary, args: ['--dir', dir, '--port', String(port)],
    readyPattern: /^READY (\S+)$/u, readyTimeoutMs: 120_000, ...(logFile ? { logFile } : {}),
  });
}
