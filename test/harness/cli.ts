import { execFile } from 'node:child_process';
import { join } from 'node:path';

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  /** stderr split into lines, without the blank last one. */
  readonly errorLines: string[];
}

/**
 * Runs the built CLI (`dist/src/cli/main.js <args>`) to completion as a user would, with only PATH, HOME and `env`
 * in its environment; killed after `timeoutMs`.
 */
export function runCli(repoRoot: string, args: readonly string[], env: Record<string, string>, timeoutMs = 60_000): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [join(repoRoot, 'dist', 'src', 'cli', 'main.js'), ...args], {
      env: { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '/tmp', ...env }, timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 10 * 1024 * 1024,
    }, (error, stdout, stderr) => {
      if (error && typeof error.code !== 'number') {
        reject(new Error(`lifecycle-manager ${args[0]} did not finish: ${error.message}\n${stderr}`));
        return;
      }
      resolve({ code: error ? Number(error.code) : 0, stdout, stderr, errorLines: stderr.split('\n').filter((l) => l.length > 0) });
    });
  });
}
