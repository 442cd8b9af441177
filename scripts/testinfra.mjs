#!/usr/bin/env node
// Builds and caches the test infrastructure outside the repository, keyed by what it is built from:
//   - test/cluster: kube-apiserver + embedded etcd, built from the Go module proxy (cold ~3.5 min, warm: 0 s)
//   - moto 5.2.1 with its server extras (the machine's Python when it has it, else a cached venv)
//   - helm (for the chart's lint/template/dry-run tests and `npm run manifests`), built from the Go module proxy
//   - promtool (for the alert tests: check rules, test rules, check metrics), built from the Go module proxy
//   - Node.js 22 (the npm registry's node package), for CI's pass on the supported Node.js line
// Usage: node scripts/testinfra.mjs prepare [helm] [promtool] [node22]
//   prepare alone builds what the harness needs (`npm run demo`, `npm run bench`); `npm test` adds helm and promtool,
//   which only the chart and alert tests use (they also build them on first use when absent).
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

/** helm v3 built from the Go module proxy; v3.19.x is the newest line whose go.mod accepts Go 1.24. */
export const HELM_VERSION = 'v3.19.5';
/** Minor of the k8s.io/client-go that HELM_VERSION builds with (v0.34.x). */
const HELM_KUBE_MINOR = '34';

/** Path of the pinned helm binary, building it (`go install`, ~1 min cold) into the cache when absent. */
export function ensureHelm() {
  const dir = join(cacheDir, `helm-${HELM_VERSION}-k8s1.${HELM_KUBE_MINOR}`);
  const binary = join(dir, 'helm');
  if (existsSync(binary)) return binary;
  mkdirSync(cacheDir, { recursive: true });
  log(`building helm ${HELM_VERSION} from the Go module proxy (first run takes about a minute)…`);
  const started = Date.now();
  const tmp = `${dir}.tmp-${process.pid}`;
  execFileSync('go', ['install', '-trimpath',
    // As helm's Makefile does: the version, and the Kubernetes version `helm template`/`lint` assume (client-go's).
    '-ldflags', [`-s -w -X helm.sh/helm/v3/internal/version.version=${HELM_VERSION}`,
      ...['pkg/lint/rules', 'pkg/chartutil'].flatMap((p) => [
        `-X helm.sh/helm/v3/${p}.k8sVersionMajor=1`, `-X helm.sh/helm/v3/${p}.k8sVersionMinor=${HELM_KUBE_MINOR}`]),
    ].join(' '),
    `helm.sh/helm/v3/cmd/helm@${HELM_VERSION}`], {
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...process.env, GOBIN: tmp, GOTOOLCHAIN: 'local', CGO_ENABLED: '0', GOFLAGS: '-buildvcs=false' },
  });
  try {
    renameSync(tmp, dir);
  } catch (e) {
    if (!existsSync(binary)) throw e; // else a concurrent build finished first
  }
  log(`built ${binary} in ${((Date.now() - started) / 1000).toFixed(0)}s`);
  return binary;
}

/** Prometheus 3.16.0 (its Go module is tagged v0.316.0); promtool is built from it. */
export const PROMETHEUS_VERSION = '3.16.0';
const PROMETHEUS_MODULE_VERSION = 'v0.316.0';

/**
 * Path of the pinned promtool, building it (`go install`) into the cache when absent. `remove_all_sd` leaves out the
 * cloud service discoveries (AWS, Azure, GCE…): promtool's rule and metrics checks need none of them, and they are
 * most of the build (the full build took ~18 min cold on 2 busy cores).
 */
export function ensurePromtool() {
  const dir = join(cacheDir, `promtool-${PROMETHEUS_VERSION}`);
  const binary = join(dir, 'promtool');
  if (existsSync(binary)) return binary;
  mkdirSync(cacheDir, { recursive: true });
  log(`building promtool ${PROMETHEUS_VERSION} from the Go module proxy (first run takes several minutes)…`);
  const started = Date.now();
  const tmp = `${dir}.tmp-${process.pid}`;
  execFileSync('go', ['install', '-trimpath', '-tags', 'remove_all_sd',
    '-ldflags', `-s -w -X github.com/prometheus/common/version.Version=${PROMETHEUS_VERSION}`,
    `github.com/prometheus/prometheus/cmd/promtool@${PROMETHEUS_MODULE_VERSION}`], {
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...process.env, GOBIN: tmp, GOTOOLCHAIN: 'local', CGO_ENABLED: '0', GOFLAGS: '-buildvcs=false' },
  });
  try {
    renameSync(tmp, dir);
  } catch (e) {
    if (!existsSync(binary)) throw e; // else a concurrent build finished first
  }
  log(`built ${binary} in ${((Date.now() - started) / 1000).toFixed(0)}s`);
  return binary;
}

/** Node.js 22, the supported line, for CI's second pass (the machine's own Node.js may be 20). */
export const NODE22_VERSION = '22.23.3';

/** Path of a Node.js 22 binary: the npm registry's `node` package (it ships the binary), installed into the cache. */
export function ensureNode22() {
  const dir = join(cacheDir, `node-${NODE22_VERSION}`);
  const binary = join(dir, 'node_modules', 'node', 'bin', 'node');
  if (existsSync(binary)) return binary;
  mkdirSync(cacheDir, { recursive: true });
  log(`installing Node.js ${NODE22_VERSION} from the npm registry (node@${NODE22_VERSION})…`);
  const tmp = `${dir}.tmp-${process.pid}`;
  // npm's own output goes to stderr: stdout is the binary's path alone (.ci/run captures it).
  execFileSync('npm', ['install', '--prefix', tmp, '--no-audit', '--no-fund', '--no-save', `node@${NODE22_VERSION}`], { stdio: ['ignore', 2, 'inherit'] });
  const version = execFileSync(join(tmp, 'node_modules', 'node', 'bin', 'node'), ['--version'], { encoding: 'utf8' }).trim();
  if (version !== `v${NODE22_VERSION}`) throw new Error(`node@${NODE22_VERSION} installed ${version}`);
  try {
    renameSync(tmp, dir);
  } catch (e) {
    if (!existsSync(binary)) throw e;
  }
  return binary;
}

/** Path of a Python interpreter with moto pinned (scripts/moto-env.sh installs it into the cache when needed). */
export function ensureMoto() {
  return execFileSync('bash', [join(repoRoot, 'scripts', 'moto-env.sh')], {
    encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, LIFECYCLE_MANAGER_CACHE: cacheDir },
  }).trim().split('\n').pop();
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const [command = 'prepare', ...extras] = process.argv.slice(2);
  const tools = { helm: ensureHelm, promtool: ensurePromtool, node22: ensureNode22 };
  const unknown = extras.filter((t) => !(t in tools));
  if (command !== 'prepare' || unknown.length > 0) {
    process.stderr.write(`usage: node scripts/testinfra.mjs prepare [${Object.keys(tools).join('] [')}]\n`);
    process.exit(2);
  }
  const started = Date.now();
  const paths = [`testcluster=${ensureTestCluster()}`, `python=${ensureMoto()}`];
  for (const tool of extras) paths.push(`${tool}=${tools[tool]()}`);
  log(`ready in ${((Date.now() - started) / 1000).toFixed(1)}s: ${paths.join(' ')}`);
}
