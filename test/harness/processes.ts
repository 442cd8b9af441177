import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { createInterface } from 'node:readline';

/** Every process group the harness started, so that an exiting test process can still take them down. */
const running = new Set<number>();
process.once('exit', () => {
  for (const pid of running) {
    try { process.kill(-pid, 'SIGKILL'); } catch { /* gone */ }
  }
});

export interface StartedProcess {
  readonly child: ChildProcess;
  /** The first stdout line that matched `readyPattern`, with its captures. */
  readonly ready: RegExpMatchArray;
  /** All output lines so far (stdout and stderr), newest last. */
  readonly lines: string[];
  /** SIGTERM the whole process group, SIGKILL after `graceMs`; resolves when it has exited. */
  stop(graceMs?: number): Promise<void>;
  /** SIGKILL the whole process group at once. */
  kill(): Promise<void>;
  readonly exited: Promise<number | null>;
}

export interface StartOptions {
  readonly command: string;
  readonly args: readonly string[];
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
  readonly readyPattern: RegExp;
  readonly readyTimeoutMs: number;
  /** Append all output to this file as well. */
  readonly logFile?: string;
  readonly name: string;
}

/** Starts a command in its own process group and waits (bounded) for a line matching `readyPattern`. */
export async function startProcess(options: StartOptions): Promise<StartedProcess> {
  const child = spawn(options.command, [...options.args], {
    env: options.env ?? process.env, cwd: options.cwd, detached: true, stdio: ['ignore', 'pipe', 'pipe'],
  });
  const pid = child.pid;
  if (pid === undefined) throw new Error(`${options.name}: failed to start ${options.command}`);
  running.add(pid);
  const lines: string[] = [];
  const file: WriteStream | undefined = options.logFile ? createWriteStream(options.logFile, { flags: 'a' }) : undefined;
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => {
    running.delete(pid);
    resolve(code);
  }));
  // Output can still arrive after 'exit'; the log file closes only once stdout and stderr have closed ('close').
  child.once('close', () => file?.end());
  let onLine: ((line: string) => void) | undefined;
  for (const stream of [child.stdout, child.stderr]) {
    createInterface({ input: stream! }).on('line', (line) => {
      lines.push(line);
      if (lines.length > 20_000) lines.splice(0, 5_000);
      if (file && !file.writableEnded) file.write(`${line}\n`);
      onLine?.(line);
    });
  }
  const ready = await new Promise<RegExpMatchArray>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${options.name}: not ready after ${options.readyTimeoutMs}ms; last output:\n${lines.slice(-20).join('\n')}`)), options.readyTimeoutMs);
    onLine = (line) => {
      const m = options.readyPattern.exec(line);
      if (m) {
        clearTimeout(timer);
        onLine = undefined;
        resolve(m);
      }
    };
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${options.name}: exited with ${code} before it was ready; last output:\n${lines.slice(-20).join('\n')}`));
    });
  }).catch(async (e: unknown) => {
    signalGroup(pid, 'SIGKILL');
    await exited;
    throw e;
  });

  const stop = async (graceMs = 10_000): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    signalGroup(pid, 'SIGTERM');
    const timer = setTimeout(() => signalGroup(pid, 'SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
  };
  const kill = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    signalGroup(pid, 'SIGKILL');
    await exited;
  };
  return { child, ready, lines, stop, kill, exited };
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}
