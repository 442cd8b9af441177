import { join } from 'node:path';
import { type StartedProcess, startProcess } from './processes.js';

export interface LifecycleManagerProcess {
  readonly process: StartedProcess;
  readonly metricsPort: number;
  /** Log lines so far. */
  logs(): string[];
  /** Waits (bounded) until a log line matches; returns it. */
  waitForLog(pattern: RegExp, timeoutMs: number): Promise<string>;
  /** Count of log lines matching. */
  countLogs(pattern: RegExp): number;
  metricsText(): Promise<string>;
  /** Sum of a metric's samples whose labels include `labels`. */
  metric(name: string, labels?: Record<string, string>): Promise<number>;
  stop(): Promise<number | null>;
  kill(): Promise<void>;
}

export interface LifecycleManagerOptions {
  readonly repoRoot: string;
  readonly kubeconfigPath: string;
  readonly queueName: string;
  readonly awsEnv: Record<string, string>;
  readonly flags?: readonly string[];
  readonly logFile?: string;
  readonly env?: Record<string, string>;
}

/** Runs the built CLI (`dist/src/cli/main.js serve`) as a child process, as a user would. */
export async function startLifecycleManager(options: LifecycleManagerOptions): Promise<LifecycleManagerProcess> {
  const proc = await startProcess({
    name: 'lifecycle-manager',
    command: process.execPath,
    args: [join(options.repoRoot, 'dist', 'src', 'cli', 'main.js'), 'serve',
      '--local-mode', options.kubeconfigPath, '--queue-name', options.queueName,
      '--metrics-address', '127.0.0.1:0', ...(options.flags ?? [])],
    env: { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '/tmp', ...options.awsEnv, ...options.env },
    readyPattern: /metrics server listening on port (\d+)/u,
    readyTimeoutMs: 30_000,
    ...(options.logFile ? { logFile: options.logFile } : {}),
  });
  const metricsPort = Number(proc.ready[1]);
  const waitForLog = async (pattern: RegExp, timeoutMs: number): Promise<string> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = proc.lines.find((l) => pattern.test(l));
      if (hit) return hit;
      if (Date.now() > deadline) throw new Error(`no log line matching ${pattern} within ${timeoutMs}ms; last lines:\n${proc.lines.slice(-30).join('\n')}`);
      if (proc.child.exitCode !== null) throw new Error(`lifecycle-manager exited (${proc.child.exitCode}) before logging ${pattern}; last lines:\n${proc.lines.slice(-30).join('\n')}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  const metricsText = async (): Promise<string> => (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  await waitForLog(/node cache synced/u, 30_000);
  return {
    process: proc,
    metricsPort,
    logs: () => [...proc.lines],
    waitForLog,
    countLogs: (pattern) => proc.lines.filter((l) => pattern.test(l)).length,
    metricsText,
    metric: async (name, labels = {}) => sumMetric(await metricsText(), name, labels),
    stop: async () => {
      await proc.stop(20_000);
      return proc.child.exitCode;
    },
    kill: () => proc.kill(),
  };
}

export function sumMetric(text: string, name: string, labels: Record<string, string> = {}): number {
  let total = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})?\s+(\S+)/u.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[3] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/gu)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) total += Number(m[4]);
  }
  return total;
}
