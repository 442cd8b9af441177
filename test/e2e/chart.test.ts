import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { eventually } from '../harness/infra.js';

// The Helm chart, its plain manifests and the apiserver's opinion of them. helm is built by scripts/testinfra.mjs
// (`npm test` prepares it; a cold build here takes about a minute, within the hook timeout).
const info = inject('harness');
const CHART = join(info.repoRoot, 'deploy', 'helm', 'lifecycle-manager');

interface Scripts {
  ensureHelm(): string;
  helmTemplate(helm: string, extraArgs?: string[], names?: { release?: string; namespace?: string }): string;
  renderAll(helm: string): Record<string, string>;
}
let helm: string;
let scripts: Scripts;

beforeAll(async () => {
  const testinfra = (await import(join(info.repoRoot, 'scripts', 'testinfra.mjs'))) as { ensureHelm(): string };
  scripts = { ...testinfra, ...((await import(join(info.repoRoot, 'scripts', 'manifests.mjs'))) as Omit<Scripts, 'ensureHelm'>) };
  helm = scripts.ensureHelm();
});

const ALL_ON = ['--set', 'serviceMonitor.enabled=true,prometheusRule.enabled=true,grafanaDashboard.enabled=true'];

function objects(yaml: string): k8s.KubernetesObject[] {
  return (k8s.loadAllYaml(yaml) as (k8s.KubernetesObject | null)[]).filter((o): o is k8s.KubernetesObject => o !== null);
}

function valuesFile(values: unknown): string {
  const file = join(mkdtempSync(join(tmpdir(), 'lm-chart-')), 'values.json');
  writeFileSync(file, JSON.stringify(values));
  return file;
}

function deploymentOf(objs: k8s.KubernetesObject[]): k8s.V1Deployment {
  return objs.find((o) => o.kind === 'Deployment') as k8s.V1Deployment;
}

/** Webhook notices from a Secret (URL and headers) and an inline template. */
const WEBHOOK_VALUES = {
  webhook: { urlSecret: { name: 'hooks', key: 'slack-url' }, headersSecret: { name: 'hooks', key: 'headers' }, template: '{"text": {{ text | json }}, "event": {{ event | json }}}' },
};

describe('the Helm chart', () => {
  it('passes helm lint --strict with the defaults and with every optional object on', () => {
    for (const extra of [[], ALL_ON]) {
      const out = execFileSync(helm, ['lint', CHART, '--strict', ...extra], { encoding: 'utf8', timeout: 60_000 });
      expect(out).toContain('0 chart(s) failed');
    }
  });

  it('passes each flags entry as --name=value: lists joined, big numbers whole, null and "" left out, unknown flags passed through', () => {
    const file = valuesFile({ flags: { 'drain-timeout': 42, 'max-time-to-process': 1_000_000, 'log-level': null, region: '', 'deregister-target-types': ['target-group'], 'flag-added-tomorrow': 'yes' }, extraArgs: ['--extra=1'] });
    const args = deploymentOf(objects(scripts.helmTemplate(helm, ['-f', file]))).spec!.template.spec!.containers[0]!.args!;
    expect(args[0]).toBe('serve');
    expect(args).toContain('--drain-timeout=42');
    expect(args).toContain('--max-time-to-process=1000000');
    expect(args).toContain('--deregister-target-types=target-group');
    expect(args).toContain('--flag-added-tomorrow=yes');
    expect(args.at(-1)).toBe('--extra=1');
    expect(args.filter((a) => a.startsWith('--log-level') || a.startsWith('--region') || a.startsWith('--kubectl-path'))).toEqual([]);
  });

  it('renders default arguments that serve itself accepts', () => {
    const args = deploymentOf(objects(scripts.helmTemplate(helm))).spec!.template.spec!.containers[0]!.args!;
    // A kubeconfig that does not exist is the one problem left, so every chart default passed validation.
    const run = spawnSync(process.execPath, [join(info.repoRoot, 'dist', 'src', 'cli', 'main.js'), ...args, '--local-mode=/nonexistent/kubeconfig'], {
      encoding: 'utf8', timeout: 30_000, env: { PATH: process.env['PATH'] ?? '', AWS_REGION: 'us-west-2' },
    });
    expect(run.status).toBe(1);
    expect(run.stderr.trim().split('\n')).toEqual(['lifecycle-manager: --local-mode: provided kubeconfig path does not exist: /nonexistent/kubeconfig']);
  });

  it('binds the service account to exactly the rules in files/clusterrole-rules.yaml (the rules the e2e suite runs under)', () => {
    const objs = objects(scripts.helmTemplate(helm));
    const role = objs.find((o) => o.kind === 'ClusterRole') as k8s.V1ClusterRole;
    const shipped = k8s.loadYaml<k8s.V1PolicyRule[]>(readFileSync(join(CHART, 'files', 'clusterrole-rules.yaml'), 'utf8'));
    expect(role.rules).toEqual(shipped);
    const binding = objs.find((o) => o.kind === 'ClusterRoleBinding') as k8s.V1ClusterRoleBinding;
    const account = objs.find((o) => o.kind === 'ServiceAccount')!;
    expect(binding.roleRef.name).toBe(role.metadata!.name);
    expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: account.metadata!.name, namespace: 'lifecycle-manager' }]);
    expect(deploymentOf(objs).spec!.template.spec!.serviceAccountName).toBe(account.metadata!.name);
  });

  it('grants the namespaced rules of files/role-rules.yaml in the namespace the Leases live in', () => {
    const shipped = k8s.loadYaml<k8s.V1PolicyRule[]>(readFileSync(join(CHART, 'files', 'role-rules.yaml'), 'utf8'));
    for (const [extra, namespace] of [[[], 'lifecycle-manager'], [['--set', 'flags.lease-namespace=leases'], 'leases']] as const) {
      const objs = objects(scripts.helmTemplate(helm, [...extra]));
      const role = objs.find((o) => o.kind === 'Role') as k8s.V1Role;
      const binding = objs.find((o) => o.kind === 'RoleBinding') as k8s.V1RoleBinding;
      expect(role.rules).toEqual(shipped);
      expect([role.metadata!.namespace, binding.metadata!.namespace]).toEqual([namespace, namespace]);
      expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: 'lifecycle-manager', namespace: 'lifecycle-manager' }]);
    }
  });

  it('points the container port, probes and metrics Service at the port of --metrics-address', () => {
    const objs = objects(scripts.helmTemplate(helm, ['--set-string', 'flags.metrics-address=0.0.0.0:9443', ...ALL_ON]));
    const container = deploymentOf(objs).spec!.template.spec!.containers[0]!;
    expect(container.ports).toEqual([{ name: 'metrics', containerPort: 9443, protocol: 'TCP' }]);
    expect(container.args).toContain('--metrics-address=0.0.0.0:9443');
    expect([container.livenessProbe?.httpGet, container.readinessProbe?.httpGet]).toEqual([{ path: '/healthz', port: 'metrics' }, { path: '/readyz', port: 'metrics' }]);
    const service = objs.find((o) => o.kind === 'Service') as k8s.V1Service;
    expect(service.spec!.ports![0]!.targetPort).toBe('metrics');
    const monitor = objs.find((o) => o.kind === 'ServiceMonitor') as unknown as { spec: { endpoints: { port: string; path: string }[] } };
    expect(monitor.spec.endpoints[0]).toMatchObject({ port: 'metrics', path: '/metrics' });
  });

  it('mounts the webhook Secrets and template where the --webhook-*-file flags it passes point, and refuses a URL given twice', () => {
    const file = valuesFile(WEBHOOK_VALUES);
    const objs = objects(scripts.helmTemplate(helm, ['-f', file]));
    const pod = deploymentOf(objs).spec!.template.spec!;
    const container = pod.containers[0]!;
    const flagged = Object.fromEntries(container.args!.filter((a) => /^--webhook-(url-file|headers-file|template)=/u.test(a)).map((a) => a.slice(2).split('=') as [string, string]));
    const mounted = (path: string) => {
      const mount = container.volumeMounts!.find((m) => path.startsWith(`${m.mountPath}/`))!;
      return { path: path.slice(mount.mountPath.length + 1), readOnly: mount.readOnly, volume: pod.volumes!.find((v) => v.name === mount.name)! };
    };
    expect(mounted(flagged['webhook-url-file']!)).toMatchObject({ path: 'slack-url', readOnly: true, volume: { secret: { secretName: 'hooks', items: [{ key: 'slack-url', path: 'slack-url' }] } } });
    expect(mounted(flagged['webhook-headers-file']!)).toMatchObject({ path: 'headers', readOnly: true, volume: { secret: { secretName: 'hooks', items: [{ key: 'headers', path: 'headers' }] } } });
    const template = mounted(flagged['webhook-template']!);
    const configMap = objs.find((o) => o.kind === 'ConfigMap' && o.metadata!.name === template.volume.configMap!.name) as k8s.V1ConfigMap;
    expect(configMap.data![template.path]).toBe(WEBHOOK_VALUES.webhook.template);
    expect(deploymentOf(objs).spec!.template.metadata!.annotations!['checksum/webhook-template']).toMatch(/^[0-9a-f]{64}$/u);
    const twice = valuesFile({ ...WEBHOOK_VALUES, flags: { 'webhook-url': 'https://hooks.example/x' } });
    const run = spawnSync(helm, ['template', 'x', CHART, '-f', twice], { encoding: 'utf8', timeout: 60_000 });
    expect(run.status).not.toBe(0);
    expect(run.stderr).toContain('webhook.urlSecret sets --webhook-url-file: leave flags.webhook-url and flags.webhook-url-file empty');
  });

  it('keeps the committed plain manifests and dashboards equal to a fresh render (npm run manifests)', () => {
    for (const [path, expected] of Object.entries(scripts.renderAll(helm))) {
      expect(readFileSync(join(info.repoRoot, path), 'utf8'), `${path} is stale: run npm run manifests`).toBe(expected);
    }
  });
});

describe('the apiserver', () => {
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(info.adminKubeconfigPath);
  const objectApi = k8s.KubernetesObjectApi.makeApiClient(kc);

  /** Server-side apply, dry-run, strict field validation; the raw object is sent, so an unknown field is an error. */
  async function dryRunApply(obj: k8s.KubernetesObject): Promise<{ status: number; body: string }> {
    const path = await (objectApi as unknown as { specUriPath(o: k8s.KubernetesObject, a: string): Promise<string> }).specUriPath(obj, 'patch');
    const server = new URL(kc.getCurrentCluster()!.server);
    const options: import('node:https').RequestOptions = {
      hostname: server.hostname, port: server.port, method: 'PATCH',
      path: `${path}?dryRun=All&fieldManager=chart-test&force=true&fieldValidation=Strict`,
      headers: { 'Content-Type': 'application/apply-patch+yaml', Accept: 'application/json' },
      timeout: 15_000,
    };
    await kc.applyToHTTPSOptions(options);
    return new Promise((resolve, reject) => {
      const req = request(options, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => { body += c.toString(); });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('timeout', () => req.destroy(new Error(`dry-run of ${obj.kind}/${obj.metadata?.name} timed out`)));
      req.on('error', reject);
      req.end(JSON.stringify(obj));
    });
  }

  async function ensureNamespace(name: string): Promise<void> {
    await kc.makeApiClient(k8s.CoreV1Api).createNamespace({ body: { metadata: { name } } }).catch((e: { code?: number }) => {
      if (e.code !== 409) throw e;
    });
  }

  /**
   * The part of the Prometheus Operator's CRDs (monitoring.coreos.com/v1) that the chart uses, with the same types:
   * enough for the apiserver to check the shape of the chart's ServiceMonitor and PrometheusRule.
   */
  const str = { type: 'string' };
  const open = { type: 'object', 'x-kubernetes-preserve-unknown-fields': true };
  const strings = { type: 'object', additionalProperties: str };
  const SPECS: Record<string, k8s.V1JSONSchemaProps> = {
    ServiceMonitor: { type: 'object', properties: {
      selector: open, namespaceSelector: open, jobLabel: str,
      endpoints: { type: 'array', items: { type: 'object', properties: {
        port: str, path: str, interval: str, scrapeTimeout: str, scheme: str,
        relabelings: { type: 'array', items: open }, metricRelabelings: { type: 'array', items: open },
      } } },
    } },
    PrometheusRule: { type: 'object', properties: {
      groups: { type: 'array', items: { type: 'object', required: ['name'], properties: {
        name: str, interval: str,
        rules: { type: 'array', items: { type: 'object', required: ['expr'], properties: {
          alert: str, record: str, expr: { 'x-kubernetes-int-or-string': true }, for: str, labels: strings, annotations: strings,
        } } },
      } } },
    } },
  };

  async function ensureMonitoringCrds(): Promise<void> {
    const ext = kc.makeApiClient(k8s.ApiextensionsV1Api);
    for (const [kind, plural] of [['ServiceMonitor', 'servicemonitors'], ['PrometheusRule', 'prometheusrules']] as const) {
      const name = `${plural}.monitoring.coreos.com`;
      await ext.createCustomResourceDefinition({ body: {
        metadata: { name },
        spec: {
          group: 'monitoring.coreos.com', scope: 'Namespaced',
          names: { kind, plural, singular: kind.toLowerCase(), listKind: `${kind}List` },
          versions: [{ name: 'v1', served: true, storage: true, schema: { openAPIV3Schema: { type: 'object', required: ['spec'], properties: { spec: SPECS[kind]! } } } }],
        },
      } }).catch((e: { code?: number }) => { if (e.code !== 409) throw e; });
      await eventually(`CRD ${name} to be established`, async () => {
        const crd = await ext.readCustomResourceDefinition({ name });
        return crd.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True');
      }, 30_000);
    }
  }

  async function expectAccepted(objs: k8s.KubernetesObject[]): Promise<void> {
    const verdicts: string[] = [];
    for (const obj of objs) {
      const { status, body } = await dryRunApply(obj);
      verdicts.push(`${obj.kind}/${obj.metadata?.name}: ${status}${status >= 300 ? ` ${body}` : ''}`);
    }
    expect(verdicts.filter((v) => !/: 20[01]$/u.test(v))).toEqual([]);
    expect(verdicts).toHaveLength(objs.length);
  }

  it('accepts every object the chart renders, with every optional object on (server-side dry-run)', async () => {
    const namespace = 'lm-chart-dryrun';
    await ensureNamespace(namespace);
    await ensureMonitoringCrds();
    const objs = objects(scripts.helmTemplate(helm, [...ALL_ON, '--set', 'serviceAccount.annotations.eks\\.amazonaws\\.com/role-arn=arn:aws:iam::111122223333:role/lm'],
      { release: 'lm-dryrun', namespace }));
    expect(objs.map((o) => o.kind)).toEqual(expect.arrayContaining(['ClusterRole', 'ClusterRoleBinding', 'ConfigMap', 'Deployment', 'PodDisruptionBudget', 'PrometheusRule', 'Service', 'ServiceAccount', 'ServiceMonitor']));
    await expectAccepted(objs);
  });

  it('accepts the objects of the webhook values (server-side dry-run)', async () => {
    const namespace = 'lm-chart-dryrun';
    await ensureNamespace(namespace);
    const objs = objects(scripts.helmTemplate(helm, ['-f', valuesFile(WEBHOOK_VALUES)], { release: 'lm-webhook', namespace }));
    expect(objs.filter((o) => o.kind === 'ConfigMap').map((o) => o.metadata!.name)).toContain('lm-webhook-lifecycle-manager-webhook-template');
    await expectAccepted(objs);
  });

  it('accepts the committed plain manifests (server-side dry-run, moved to a namespace of the test\'s own)', async () => {
    const namespace = 'lm-manifests-dryrun';
    await ensureNamespace(namespace);
    const text = readFileSync(join(info.repoRoot, 'deploy', 'manifests', 'lifecycle-manager.yaml'), 'utf8');
    const objs = objects(text).map((o) => {
      const copy = JSON.parse(JSON.stringify(o)) as k8s.KubernetesObject & { subjects?: { namespace?: string }[] };
      if (copy.kind === 'Namespace') copy.metadata!.name = namespace;
      else if (copy.metadata?.namespace) copy.metadata.namespace = namespace;
      for (const s of copy.subjects ?? []) s.namespace = namespace;
      return copy;
    });
    expect(objs.map((o) => o.kind)).toContain('Namespace');
    await expectAccepted(objs);
  });

  it('refuses a field the API does not have, so the dry-run above can fail', async () => {
    const deployment = deploymentOf(objects(scripts.helmTemplate(helm, [], { release: 'lm-dryrun', namespace: 'lm-chart-dryrun' })));
    await ensureNamespace('lm-chart-dryrun');
    (deployment.spec!.template.spec!.containers[0] as unknown as Record<string, unknown>)['readinessProb'] = {};
    const { status, body } = await dryRunApply(deployment);
    // Server-side apply reports a field outside the schema as a failure to build the typed patch (HTTP 500).
    expect(status, body).toBeGreaterThanOrEqual(400);
    expect(body).toContain('.readinessProb: field not declared in schema');
  });
});
