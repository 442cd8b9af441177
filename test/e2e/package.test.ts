import { execFile } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startProcess } from '../harness/processes.js';
import { e2eFixture } from './fixture.js';

// The npm package is the CLI: `npm pack` on a fresh clone yields a package of runtime files only, and the
// `lifecycle-manager` it installs works (help, version, and serve against the harness).
const run = promisify(execFile);
const f = e2eFixture();
beforeAll(() => f.start());
afterAll(() => f.stop());

interface PackResult { filename: string; size: number; unpackedSize: number; entryCount: number; files: { path: string }[] }

/** The repository as a fresh clone has it (tracked and new, unignored files; no dist/), with the installed node_modules. */
async function freshClone(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'lm-clone-'));
  const { stdout } = await run('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: f.info.repoRoot, maxBuffer: 16 * 1024 * 1024 });
  for (const path of stdout.split('\0').filter(Boolean)) {
    const from = join(f.info.repoRoot, path);
    if (!existsSync(from) || !lstatSync(from).isFile()) continue; // deleted in the work tree, or not a file
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), readFileSync(from));
  }
  symlinkSync(join(f.info.repoRoot, 'node_modules'), join(dir, 'node_modules'));
  return dir;
}

describe('the npm package', () => {
  let bin: string;
  let packed: PackResult;

  it('packs from a fresh clone (prepack builds) with only runtime files', async () => {
    const clone = await freshClone();
    const out = join(clone, 'out');
    mkdirSync(out);
    const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', out], { cwd: clone, timeout: 240_000, maxBuffer: 16 * 1024 * 1024 });
    [packed] = JSON.parse(stdout.slice(stdout.indexOf('['))) as PackResult[];
    const paths = packed!.files.map((p) => p.path);
    expect(paths).toContain('dist/src/cli/main.js');
    expect(paths.filter((p) => !/^(package\.json|README\.md|CHANGELOG\.md|dist\/build-info\.json|dist\/src\/.+\.js)$/u.test(p))).toEqual([]);
    expect(paths.filter((p) => /\.test\.js$|^dist\/(test|bench)\//u.test(p))).toEqual([]);
    process.stderr.write(`npm pack: ${packed!.filename}, ${packed!.size} bytes packed, ${packed!.unpackedSize} unpacked, ${packed!.entryCount} files\n`);

    const prefix = join(clone, 'prefix');
    // Tarballs come from the npm cache `npm ci` filled; only the registry's metadata is asked for.
    await run('npm', ['install', '--global', '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund', join(out, packed!.filename)], { cwd: clone, timeout: 240_000 });
    bin = join(prefix, 'bin', 'lifecycle-manager');
  }, 480_000);

  it('installs a lifecycle-manager that shows its help and version', async () => {
    expect(bin, 'the package was not installed').toBeDefined();
    const env = { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '/tmp' };
    const help = await run(bin, ['serve', '--help'], { env, timeout: 30_000 });
    expect(help.stdout).toMatch(/^Usage: lifecycle-manager serve \[options\]/u);
    expect(help.stdout).toContain('--queue-name <string>');
    const version = await run(bin, ['version'], { env, timeout: 30_000 });
    expect(version.stdout).toMatch(/^Version: \d+\.\d+\.\d+\nGit Commit: .+\nBuild Date: .+\nNode Version: v\d+/u);
    expect((await run(bin, ['--version'], { env, timeout: 30_000 })).stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/u);
  });

  it('installs a lifecycle-manager that serves against the harness and stops cleanly', async () => {
    expect(bin, 'the package was not installed').toBeDefined();
    const world = await f.world({ instances: 1, heartbeatTimeoutSeconds: 30 });
    const proc = await startProcess({
      name: 'installed lifecycle-manager', command: bin,
      args: ['serve', '--local-mode', f.info.serviceKubeconfigPath, '--queue-name', world.queueName, '--metrics-address', '127.0.0.1:0', '--polling-interval', '1'],
      env: { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '/tmp', ...f.awsEnv },
      readyPattern: /metrics server listening on port (\d+)/u, readyTimeoutMs: 60_000,
    });
    try {
      const health = await fetch(`http://127.0.0.1:${proc.ready[1]}/metrics`);
      expect(health.status).toBe(200);
      expect(await health.text()).toContain('lifecycle_manager_active_goroutines');
    } finally {
      await proc.stop(20_000);
    }
    expect(proc.child.exitCode).toBe(0);
  });
});
