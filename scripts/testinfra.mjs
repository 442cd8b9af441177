#!/usr/bin/env node
// Builds and caches the test infrastructure outside the repository, keyed by what it is built from:
//   - test/cluster: kube-apiserver + embedded etcd, built from the Go module proxy (cold ~3.5 min, warm: 0 s)
//   - moto 5.2.1 with its server extras (the machine's Python when it has it, else a cached venv)
// Usage: node scripts/testinfra.mjs prepare   (prints the paths; `npm test` and `npm run demo` call it)
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const cacheDir = process.env.LIFECYCLE_MANAGER_CACHE ?? join(homedir(), '.cache', 'lifecycle-manager-testinfra');
export const KUBERNETES_VERSION = 'v1.34.3';

function log(msg) {
  process.stderr.write(`testinfra: ${msg}\n`);
}

/** Path of the testcluster binary for the current sources and Go version, building it when absent. */
export function ensureTestCluster() {
  const clusterDir = join(repoRoot, 'test', 'cluster');
  const goVersion = execFileSync('go', ['env', 'GOVERSION'], { encoding: 'utf8', env: { ...process.env, GOTOOLCHAIN: 'local' } }).trim();
  const hash = createHash('sha256');
  for (const f of ['go.mod', 'go.sum', 'main.go']) hash.update(readFileSync(join(clusterDir, f)));
  hash.update(goVersion);
  const key = hash.digest('hex').slice(0, 16);
  const binary = join(cacheDir, `testcluster-${key}`);
  if (existsSync(binary)) return binary;
  mkdirSync(cacheDir, { recursive: true });
  const minor = KUBERNETES_VERSION.split('.')[1];
  log(`building kube-apiserver ${KUBERNETES_VERSION} + etcd harness (first run takes a few minutes)…`);
  const started = Date.now();
  const tmp = `${binary}.tmp-${process.pid}`;
  execFileSync('go', ['build', '-trimpath',
    '-ldflags', `-s -w -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=${minor} -X k8s.io/component-base/version.gitVersion=${KUBERNETES_VERSION}`,
    '-o', tmp, '.'], { cwd: clusterDir, stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, GOTOOLCHAIN: 'local', CGO_ENABLED: '0', GOFLAGS: '-mod=mod' } });
  renameSync(tmp, binary);
  log(`built ${binary} in ${((Date.now() - started) / 1000).toFixed(0)}s`);
  return binary;
}

/** Path of a Python interpreter with moto pinned (scripts/moto-env.sh installs it into the cache when needed). */
export function ensureMoto() {
  return execFileSync('bash', [join(repoRoot, 'scripts', 'moto-env.sh')], {
    encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, LIFECYCLE_MANAGER_CACHE: cacheDir },
  }).trim().split('\n').pop();
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const command = process.argv[2] ?? 'prepare';
  if (command !== 'prepare') {
    process.stderr.write('usage: node scripts/testinfra.mjs prepare\n');
    process.exit(2);
  }
  const started = Date.now();
  const cluster = ensureTestCluster();
  const python = ensureMoto();
  log(`ready in ${((Date.now() - started) / 1000).toFixed(1)}s: testcluster=${cluster} python=${python}`);
}
