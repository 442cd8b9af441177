import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// The test cache builds helm and promtool only for what needs them: `npm run demo` (and bench) prepare the harness
// alone (a fresh machine spent ~5 minutes building helm for the demo). A stand-in `go` records what would be built.
const root = fileURLToPath(new URL('../../../', import.meta.url));
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
const FAKE_GO_VERSION = 'go1.0-fake';

/** The `node scripts/testinfra.mjs prepare …` step of an npm script. */
function prepareStep(script: string): string[] {
  const step = pkg.scripts[script]!.split('&&').map((s) => s.trim()).find((s) => s.startsWith('node scripts/testinfra.mjs'));
  expect(step, `npm run ${script} prepares the test infrastructure`).toBeDefined();
  return step!.split(/\s+/u).slice(1);
}

/** Runs a prepare step against an empty cache (the harness binary already there) and returns what `go` was asked to build. */
function goBuildsFor(args: string[]): { status: number | null; builds: string[] } {
  const dir = mkdtempSync(join(tmpdir(), 'lm-testinfra-'));
  const cache = join(dir, 'cache');
  mkdirSync(cache);
  const hash = createHash('sha256');
  for (const f of ['go.mod', 'go.sum', 'main.go']) hash.update(readFileSync(join(root, 'test', 'cluster', f)));
  hash.update(FAKE_GO_VERSION);
  writeFileSync(join(cache, `testcluster-${hash.digest('hex').slice(0, 16)}`), '');
  const bin = join(dir, 'bin');
  mkdirSync(bin);
  const log = join(dir, 'go.log');
  writeFileSync(join(bin, 'go'), `#!/bin/sh\nif [ "$1 $2" = "env GOVERSION" ]; then echo ${FAKE_GO_VERSION}; exit 0; fi\necho "$@" >> '${log}'\nexit 1\n`);
  chmodSync(join(bin, 'go'), 0o755);
  const run = spawnSync(process.execPath, args, {
    cwd: root, encoding: 'utf8', timeout: 60_000,
    env: { ...process.env, PATH: `${bin}:${process.env['PATH'] ?? ''}`, LIFECYCLE_MANAGER_CACHE: cache },
  });
  return { status: run.status, builds: existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n') : [] };
}

describe('the test infrastructure cache (scripts/testinfra.mjs)', () => {
  it('builds nothing for npm run demo and npm run bench beyond the harness (no helm, no promtool)', () => {
    for (const script of ['demo', 'bench']) expect(goBuildsFor(prepareStep(script)), script).toEqual({ status: 0, builds: [] });
  });

  it('builds helm and promtool for npm test, which has tests that use them', () => {
    const { builds } = goBuildsFor(prepareStep('test'));
    // The stand-in go fails the first build, so prepare stops there; that it was asked is the point.
    expect(builds).toEqual([expect.stringMatching(/^install .*helm\.sh\/helm\/v3\/cmd\/helm@/u)]);
    expect(prepareStep('test').slice(2)).toEqual(['helm', 'promtool']);
  });
});
