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

const ALL_ON = ['--set', 'serviceMonitor.enabled=true,podMonitor.enabled=true,prometheusRule.enabled=true,grafanaDashboard.enabled=true'];

function objects(yaml: string): k8s.KubernetesObject[] {
  return (k8s.loadAllYaml(yaml) as (k8s.KubernetesObject | null)[]).filter((o): o is k8s.KubernetesObject => o !== null);
}

/** The YAML documents of a render, as text: what is sent to the apiserver, so that no parser drops a field. */
function documents(yaml: string): string[] {
  return yaml.split(/^---\s*$/mu).filter((d) => /^kind: /mu.test(d));
}

/** helm's error when a render is refused (the values schema), or undefined when it renders. */
function renderError(args: string[]): string | undefined {
  try {
    scripts.helmTemplate(helm, args);
    return undefined;
  } catch (e) {
    return String((e as { stderr?: unknown }).stderr ?? e);
  }
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

  it('passes each flags entry as --name=value: lists joined, big numbers whole, null and "" left out, extraArgs last', () => {
    const file = valuesFile({ flags: { 'drain-timeout': 42, 'max-time-to-process': 100_000, 'log-level': null, region: '', 'deregister-target-types': ['target-group'] }, extraArgs: ['--flag-added-tomorrow=yes', '--extra=1'] });
    const args = deploymentOf(objects(scripts.helmTemplate(helm, ['-f', file]))).spec!.template.spec!.containers[0]!.args!;
    expect(args[0]).toBe('serve');
    expect(args).toContain('--drain-timeout=42');
    expect(args).toContain('--max-time-to-process=100000');
    expect(args).toContain('--deregister-target-types=target-group');
    expect(args.slice(-2)).toEqual(['--flag-added-tomorrow=yes', '--extra=1']);
    expect(args.filter((a) => a.startsWith('--log-level') || a.startsWith('--region') || a.startsWith('--kubectl-path'))).toEqual([]);
  });

  it('refuses values its schema does not allow, naming the key: an unknown or misspelled flag, a wrong type, a value out of range', () => {
    expect(renderError(['--set', 'flags.drain-timout=5'])).toMatch(/at '\/flags': additional properties 'drain-timout' not allowed/u);
    expect(renderError(['--set', 'replicas=two'])).toMatch(/at '\/replicas': got string, want integer/u);
    expect(renderError(['--set', 'flags.polling-interval=21'])).toMatch(/at '\/flags\/polling-interval'/u);
    expect(renderError(['--set', 'flags.log-format=yaml'])).toMatch(/at '\/flags\/log-format'/u);
    expect(renderError(['--set', 'prometheusRule.alerts.LifecycleManagerHookFaild.enabled=false'])).toMatch(/additional properties 'LifecycleManagerHookFaild' not allowed/u);
    expect(renderError(['--set', 'replicas=3,flags.drain-timeout=600'])).toBeUndefined();
    // helm lint --strict checks the same schema.
    const lint = spawnSync(helm, ['lint', CHART, '--strict', '--set', 'replicas=two'], { encoding: 'utf8', timeout: 60_000 });
    expect([lint.status, `${lint.stdout}${lint.stderr}`]).toEqual([1, expect.stringMatching(/at '\/replicas': got string, want integer/u)]);
  });

  it('has the knobs platform teams expect: strategy, extra labels and annotations, envFrom, DNS, anti-affinity, monitor namespaces', () => {
    const file = valuesFile({
      additionalLabels: { team: 'platform' }, additionalAnnotations: { 'example.com/owner': 'platform' },
      envFrom: [{ configMapRef: { name: 'lm-env' } }], dnsPolicy: 'None', dnsConfig: { nameservers: ['10.0.0.10'] },
      podAntiAffinity: 'required', affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'pool', operator: 'In', values: ['system'] }] }] } } },
      strategy: { type: 'Recreate' },
      serviceMonitor: { enabled: true, namespace: 'monitoring', interval: '15s', relabelings: [{ action: 'labeldrop', regex: 'pod' }] },
      podMonitor: { enabled: true, namespace: 'monitoring' }, prometheusRule: { enabled: true, namespace: 'monitoring' }, grafanaDashboard: { enabled: true },
    });
    const objs = objects(scripts.helmTemplate(helm, ['-f', file]));
    for (const o of objs) {
      expect(o.metadata?.labels?.['team'], `${o.kind} labels`).toBe('platform');
      expect(o.metadata?.annotations?.['example.com/owner'], `${o.kind} annotations`).toBe('platform');
    }
    const deployment = deploymentOf(objs);
    const pod = deployment.spec!.template;
    expect(deployment.spec!.strategy).toEqual({ type: 'Recreate' }); // without the default's rollingUpdate
    expect(pod.metadata!.labels!['team']).toBe('platform');
    expect(pod.spec!.containers[0]!.envFrom).toEqual([{ configMapRef: { name: 'lm-env' } }]);
    expect([pod.spec!.dnsPolicy, pod.spec!.dnsConfig]).toEqual(['None', { nameservers: ['10.0.0.10'] }]);
    expect(pod.spec!.affinity!.nodeAffinity).toBeDefined();
    expect(pod.spec!.affinity!.podAntiAffinity!.requiredDuringSchedulingIgnoredDuringExecution).toEqual([
      { topologyKey: 'kubernetes.io/hostname', labelSelector: { matchLabels: deployment.spec!.selector.matchLabels } },
    ]);
    for (const kind of ['ServiceMonitor', 'PodMonitor', 'PrometheusRule']) expect(objs.find((o) => o.kind === kind)?.metadata?.namespace, kind).toBe('monitoring');
    const monitor = objs.find((o) => o.kind === 'ServiceMonitor') as unknown as { spec: { endpoints: Record<string, unknown>[]; namespaceSelector: unknown } };
    expect(monitor.spec.endpoints[0]).toMatchObject({ interval: '15s', relabelings: [{ action: 'labeldrop', regex: 'pod' }] });
    expect(monitor.spec.namespaceSelector).toEqual({ matchNames: ['lifecycle-manager'] });
    const podMonitor = objs.find((o) => o.kind === 'PodMonitor') as unknown as { spec: { podMetricsEndpoints: { port: string }[] } };
    expect(podMonitor.spec.podMetricsEndpoints[0]!.port).toBe('metrics');
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

  /**
   * Server-side apply, dry-run, strict field validation, of a document as helm rendered it: the YAML text itself is
   * sent (only its kind and name are read here), so a field the API does not have is an error, not dropped.
   */
  async function dryRunApply(doc: string): Promise<{ status: number; body: string; what: string }> {
    const obj = k8s.loadYaml<k8s.KubernetesObject>(doc);
    const what = `${obj.kind}/${obj.metadata?.name}`;
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
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, what }));
      });
      req.on('timeout', () => req.destroy(new Error(`dry-run of ${what} timed out`)));
      req.on('error', reject);
      req.end(doc);
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
    PodMonitor: { type: 'object', properties: {
      selector: open, namespaceSelector: open, jobLabel: str,
      podMetricsEndpoints: { type: 'array', items: { type: 'object', properties: {
        port: str, path: str, interval: str, scrapeTimeout: str, scheme: str,
        relabelings: { type: 'array', items: open }, metricRelabelings: { type: 'array', items: open },
      } } },
    } },
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
    for (const [kind, plural] of [['ServiceMonitor', 'servicemonitors'], ['PodMonitor', 'podmonitors'], ['PrometheusRule', 'prometheusrules']] as const) {
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

  /** The dry-run's verdict on each document that it refused (empty: all accepted). */
  async function refusals(docs: string[]): Promise<string[]> {
    const verdicts: string[] = [];
    for (const doc of docs) {
      const { status, body, what } = await dryRunApply(doc);
      if (status >= 300) verdicts.push(`${what}: ${status} ${body}`);
    }
    return verdicts;
  }

  it('accepts every object the chart renders, with every optional object on (server-side dry-run of the raw YAML)', async () => {
    const namespace = 'lm-chart-dryrun';
    await ensureNamespace(namespace);
    await ensureMonitoringCrds();
    const yaml = scripts.helmTemplate(helm, [...ALL_ON, '--set', 'serviceAccount.annotations.eks\\.amazonaws\\.com/role-arn=arn:aws:iam::111122223333:role/lm,podAntiAffinity=required,additionalLabels.team=platform'],
      { release: 'lm-dryrun', namespace });
    expect(objects(yaml).map((o) => o.kind)).toEqual(expect.arrayContaining(['ClusterRole', 'ClusterRoleBinding', 'ConfigMap', 'Deployment', 'PodDisruptionBudget', 'PodMonitor', 'PrometheusRule', 'Service', 'ServiceAccount', 'ServiceMonitor']));
    expect(documents(yaml)).toHaveLength(objects(yaml).length);
    expect(await refusals(documents(yaml))).toEqual([]);
  });

  it('accepts the objects of the webhook values (server-side dry-run)', async () => {
    const namespace = 'lm-chart-dryrun';
    await ensureNamespace(namespace);
    const yaml = scripts.helmTemplate(helm, ['-f', valuesFile(WEBHOOK_VALUES)], { release: 'lm-webhook', namespace });
    expect(objects(yaml).filter((o) => o.kind === 'ConfigMap').map((o) => o.metadata!.name)).toContain('lm-webhook-lifecycle-manager-webhook-template');
    expect(await refusals(documents(yaml))).toEqual([]);
  });

  it('accepts the committed plain manifests (server-side dry-run of the raw YAML, moved to a namespace of the test\'s own)', async () => {
    const namespace = 'lm-manifests-dryrun';
    await ensureNamespace(namespace);
    const text = readFileSync(join(info.repoRoot, 'deploy', 'manifests', 'lifecycle-manager.yaml'), 'utf8');
    const docs = documents(text).map((doc) => (/^kind: Namespace$/mu.test(doc)
      ? doc.replace(/^ {2}name: lifecycle-manager$/mu, `  name: ${namespace}`)
      : doc.replaceAll(/^( +)namespace: lifecycle-manager$/gmu, `$1namespace: ${namespace}`)));
    expect(docs.some((d) => /^kind: Namespace$/mu.test(d))).toBe(true);
    expect(docs.filter((d) => /namespace: lifecycle-manager$/mu.test(d))).toEqual([]);
    expect(await refusals(docs)).toEqual([]);
  });

  it('refuses a misspelled field in what the chart renders (readinessProb), so the dry-runs above can fail', async () => {
    await ensureNamespace('lm-chart-dryrun');
    const yaml = scripts.helmTemplate(helm, [], { release: 'lm-dryrun', namespace: 'lm-chart-dryrun' });
    expect(yaml).toContain('readinessProbe:');
    const verdicts = await refusals(documents(yaml.replace('readinessProbe:', 'readinessProb:')));
    // Server-side apply reports a field outside the schema as a failure to build the typed patch.
    expect(verdicts).toEqual([expect.stringMatching(/^Deployment\/lm-dryrun-lifecycle-manager: [45]\d\d .*readinessProb/u)]);
  });
});
