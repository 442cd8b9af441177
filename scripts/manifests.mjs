#!/usr/bin/env node
// Renders everything derived from the Helm chart, in one command (`npm run manifests`):
//   - deploy/manifests/lifecycle-manager.yaml  `helm template` with deploy/manifests/values.yaml (plain manifests)
//   - deploy/grafana/lifecycle-manager.json    the Grafana dashboard (scripts/grafana-dashboard.mjs)
//   - deploy/helm/lifecycle-manager/files/grafana-dashboard.json  the same dashboard, for the chart's ConfigMap
// A test renders them again and compares, so a chart change without a re-render fails CI.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { dashboardJson } from './grafana-dashboard.mjs';

export const repoRoot = resolve(fileURLToPath(new URL('.', import.meta.url)), '..');
export const CHART_DIR = join('deploy', 'helm', 'lifecycle-manager');
export const RELEASE = 'lifecycle-manager';
export const NAMESPACE = 'lifecycle-manager';

const HEADER = `# lifecycle-manager: plain Kubernetes manifests, rendered from the Helm chart by \`npm run manifests\`:
#   helm template ${RELEASE} ${CHART_DIR} --namespace ${NAMESPACE} -f deploy/manifests/values.yaml
# Do not edit: change the chart or deploy/manifests/values.yaml and re-render (a test compares).
# Before applying: set the image to the one you pushed, and --queue-name / --region in the Deployment's args.
# AWS credentials: annotate the ServiceAccount with eks.amazonaws.com/role-arn (IRSA) or create an EKS Pod Identity
# association for ${NAMESPACE}/lifecycle-manager; deploy/iam/serve-policy.json is the policy the role needs.
`;

/** `helm template` of the chart with extra arguments (e.g. `--set`, `-f`), as text. */
export function helmTemplate(helm, extraArgs = [], { release = RELEASE, namespace = NAMESPACE } = {}) {
  return execFileSync(helm, ['template', release, join(repoRoot, CHART_DIR), '--namespace', namespace, ...extraArgs], {
    encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000,
  });
}

/** Every generated file: repository-relative path → expected content. */
export function renderAll(helm) {
  const dashboard = dashboardJson();
  return {
    [join(CHART_DIR, 'files', 'grafana-dashboard.json')]: dashboard,
    [join('deploy', 'grafana', 'lifecycle-manager.json')]: dashboard,
    [join('deploy', 'manifests', 'lifecycle-manager.yaml')]:
      HEADER + helmTemplate(helm, ['-f', join(repoRoot, 'deploy', 'manifests', 'values.yaml')]),
  };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { ensureHelm } = await import('./testinfra.mjs');
  const helm = ensureHelm();
  for (const [path, content] of Object.entries(renderAll(helm))) {
    const file = join(repoRoot, path);
    let old;
    try {
      old = readFileSync(file, 'utf8');
    } catch {
      old = undefined;
    }
    if (old !== content) writeFileSync(file, content);
    process.stderr.write(`manifests: ${old === content ? 'unchanged' : 'wrote'} ${path}\n`);
  }
}
