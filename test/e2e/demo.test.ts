import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, inject, it } from 'vitest';

const info = inject('harness');

describe('npm run demo', () => {
  it('runs the whole flow in its own sandbox and ends with a successful summary', async () => {
    // The compiled demo, as `npm run demo` runs it (after its build); it starts and stops its own harness.
    const child = spawn(process.execPath, [join(info.repoRoot, 'dist', 'test', 'demo', 'main.js')], { stdio: ['ignore', 'pipe', 'pipe'], env: process.env });
    let out = '';
    child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { out += d.toString(); });
    const code = await new Promise<number | null>((resolve) => {
      const timer = setTimeout(() => child.kill('SIGKILL'), 150_000);
      child.once('exit', (c) => { clearTimeout(timer); resolve(c); });
    });
    expect(code, out.slice(-3000)).toBe(0);
    expect(out).toMatch(/lifecycle result CONTINUE/u);
    expect(out).toMatch(/deregistered from target group .*deregistered from classic ELB/u);
    expect(out).toMatch(/✓ graceful termination/u);
  });
});
