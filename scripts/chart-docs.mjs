// The Helm chart's generated files (`npm run docs` writes them; a unit test compares them with a fresh render):
//   - deploy/helm/lifecycle-manager/values.schema.json: the values' JSON Schema, built with zod from SERVE_FLAGS
//     (types, ranges and choices of every serve flag) and the alerts of files/alerts.yaml. helm install, upgrade,
//     template and lint check values against it, so a misspelled key or a wrong type fails before anything runs.
//   - deploy/helm/lifecycle-manager/README.md: what the chart is and how to install it, with a table of every value
//     (its type from the schema, its default from values.yaml, its description from the schema).
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as k8s from '@kubernetes/client-node';
import { z } from 'zod';

export const repoRoot = resolve(fileURLToPath(new URL('.', import.meta.url)), '..');
export const CHART = join(repoRoot, 'deploy', 'helm', 'lifecycle-manager');

const d = (schema, description) => schema.meta({ description }).optional();
const obj = (shape) => z.strictObject(shape);
/** A Kubernetes object or field the apiserver checks (resources, affinity…): any object. */
const kube = z.record(z.string(), z.unknown());
const kubeList = z.array(kube);
const strings = z.record(z.string(), z.string());
const duration = z.string().regex(/^(\d+(ms|s|m|h|d|w|y))*$/u);

/** The `flags` map: one entry per serve flag, typed as serve parses it; null (or "") leaves the flag out. */
function flagsSchema(flags) {
  const shape = {};
  for (const f of flags) {
    let schema;
    if (f.kind === 'int') schema = z.int().min(f.min).max(f.max).nullable();
    else if (f.kind === 'bool') schema = z.boolean().nullable();
    else if (f.kind === 'list') schema = z.union([z.array(f.choices ? z.enum(f.choices) : z.string()), z.string(), z.null()]);
    else if (f.choices) schema = z.union([z.enum(f.choices), z.literal(''), z.null()]);
    else schema = z.string().nullable();
    shape[f.name] = d(schema, `--${f.name}: ${f.description}`);
  }
  return d(obj(shape), 'Every serve flag by name, each passed as --name=value (lists joined with commas); null or "" leaves the flag out so the binary\'s default applies. Unknown names are refused: use extraArgs for a flag this chart does not know');
}

/** The alerts of files/alerts.yaml: name and whether its expression has a threshold. */
export function readAlerts() {
  return k8s.loadYaml(readFileSync(join(CHART, 'files', 'alerts.yaml'), 'utf8'))
    .map((a) => ({ name: a.alert, hasThreshold: a.expr.includes('__THRESHOLD__') }));
}

function alertsSchema(alerts) {
  const shape = {};
  for (const a of alerts) {
    shape[a.name] = d(obj({
      enabled: d(z.boolean(), 'render this alert'),
      ...(a.hasThreshold ? { threshold: d(z.number(), 'the number the expression compares with') } : {}),
      for: d(z.union([duration, z.null()]), 'how long the condition must hold before the alert fires ("" fires at once)'),
      severity: d(z.enum(['info', 'warning', 'critical']), 'the alert\'s severity label'),
    }), `${a.name} (docs/runbooks.md#${a.name.toLowerCase()})`);
  }
  return obj(shape);
}

const monitor = (kind) => obj({
  enabled: d(z.boolean(), `render a ${kind} (needs the Prometheus Operator's CRDs)`),
  namespace: d(z.string(), `namespace of the ${kind}; "" is the release namespace`),
  interval: d(duration, 'scrape interval'),
  scrapeTimeout: d(duration, 'scrape timeout'),
  labels: d(strings, `labels on the ${kind}, e.g. the ones your Prometheus selects by`),
  relabelings: d(kubeList, 'relabelings of the scrape target'),
  metricRelabelings: d(kubeList, 'relabelings of the scraped series'),
});

/** The chart's values as a zod schema. */
export function valuesZod({ flags, alerts }) {
  return obj({
    flags: flagsSchema(flags),
    extraArgs: d(z.array(z.string()), 'arguments appended after the flags, e.g. ["--some-new-flag=value"]'),
    image: d(obj({
      repository: d(z.string().min(1), 'the image (build it from the repository\'s Dockerfile)'),
      tag: d(z.string(), 'the tag; "" is the chart\'s appVersion'),
      digest: d(z.string().regex(/^(sha256:[a-f0-9]{64})?$/u), 'an immutable digest (sha256:…), which wins over tag'),
      pullPolicy: d(z.enum(['Always', 'IfNotPresent', 'Never']), 'the image pull policy'),
    }), 'the container image'),
    imagePullSecrets: d(kubeList, 'pull secrets, e.g. [{name: regcred}]'),
    nameOverride: d(z.string(), 'replaces the chart name in object names'),
    fullnameOverride: d(z.string(), 'replaces the full name of the release\'s objects'),
    namespace: d(obj({ create: d(z.boolean(), 'also render the Namespace (with Helm, use --create-namespace instead)') }), 'the release namespace'),
    serviceAccount: d(obj({
      create: d(z.boolean(), 'create the ServiceAccount'),
      name: d(z.string(), 'its name; "" is the release\'s full name'),
      annotations: d(strings, 'annotations, e.g. eks.amazonaws.com/role-arn for IRSA'),
      labels: d(strings, 'labels'),
    }), 'the ServiceAccount serve runs as'),
    rbac: d(obj({ create: d(z.boolean(), 'create the ClusterRole and Role (exactly the verbs the code uses) and their bindings') }), 'RBAC'),
    replicas: d(z.int().min(0), 'replicas; they share the queue, active-active (README, "High availability")'),
    revisionHistoryLimit: d(z.int().min(0), 'old ReplicaSets kept'),
    strategy: d(kube, 'the Deployment\'s update strategy; the default starts the new replica before stopping the old one'),
    priorityClassName: d(z.string(), 'priority class; losing serve during a scale-in means ungraceful terminations'),
    podDisruptionBudget: d(obj({
      enabled: d(z.boolean(), 'render a PodDisruptionBudget'),
      maxUnavailable: d(z.union([z.int().min(0), z.string(), z.null()]), 'maxUnavailable (null to use minAvailable)'),
      minAvailable: d(z.union([z.int().min(0), z.string(), z.null()]), 'minAvailable, when maxUnavailable is null'),
    }), 'the PodDisruptionBudget'),
    heapSizeMiB: d(z.int().min(16), 'V8 old-generation cap in MiB (NODE_OPTIONS=--max-old-space-size); keep it well under the memory limit'),
    heapSemiSpaceMiB: d(z.int().min(1).max(64), 'V8 young-generation semi-space cap in MiB (NODE_OPTIONS=--max-semi-space-size)'),
    resources: d(kube, 'the container\'s resources'),
    podSecurityContext: d(kube, 'the pod\'s security context'),
    securityContext: d(kube, 'the container\'s security context'),
    terminationGracePeriodSeconds: d(z.int().min(0), 'seconds a stopping pod gets to bring its actions to a safe point'),
    probes: d(obj({
      startup: d(kube.nullable(), 'the startup probe (null: none)'),
      liveness: d(kube.nullable(), 'the liveness probe on /healthz (null: none)'),
      readiness: d(kube.nullable(), 'the readiness probe on /readyz (null: none)'),
    }), 'the container\'s probes'),
    podAntiAffinity: d(z.enum(['', 'preferred', 'required']), 'anti-affinity between replicas on kubernetes.io/hostname: "" none, preferred, or required (never two on one node); merged with affinity'),
    topologySpread: d(obj({
      enabled: d(z.boolean(), 'spread the replicas over topologyKeys'),
      maxSkew: d(z.int().min(1), 'maxSkew of each constraint'),
      whenUnsatisfiable: d(z.enum(['ScheduleAnyway', 'DoNotSchedule']), 'whenUnsatisfiable of each constraint'),
      topologyKeys: d(z.array(z.string()), 'one constraint per key'),
    }), 'topology spread of the replicas'),
    topologySpreadConstraints: d(kubeList, 'more topology spread constraints, added as they are'),
    nodeSelector: d(strings, 'node selector'),
    tolerations: d(kubeList, 'tolerations'),
    affinity: d(kube, 'affinity'),
    additionalLabels: d(strings, 'labels added to every object the chart renders, the pods included'),
    additionalAnnotations: d(strings, 'annotations added to every object the chart renders, the pods included'),
    podAnnotations: d(strings, 'annotations on the pods'),
    podLabels: d(strings, 'labels on the pods'),
    env: d(kubeList, 'extra environment variables (every flag can also be LIFECYCLE_MANAGER_<FLAG>; flags win)'),
    envFrom: d(kubeList, 'environment from ConfigMaps or Secrets'),
    dnsPolicy: d(z.enum(['', 'ClusterFirst', 'ClusterFirstWithHostNet', 'Default', 'None']), 'the pod\'s DNS policy ("" is Kubernetes\' default)'),
    dnsConfig: d(kube, 'the pod\'s DNS config'),
    extraVolumes: d(kubeList, 'extra volumes'),
    extraVolumeMounts: d(kubeList, 'extra volume mounts'),
    webhook: d(obj({
      urlSecret: d(obj({ name: d(z.string(), 'Secret name ("" none)'), key: d(z.string(), 'its key') }), 'a Secret key holding the webhook URL: mounted, sets --webhook-url-file'),
      headersSecret: d(obj({ name: d(z.string(), 'Secret name ("" none)'), key: d(z.string(), 'its key') }), 'a Secret key holding extra headers, one "Name: value" per line: mounted, sets --webhook-headers-file'),
      template: d(z.string(), 'a Liquid template for the body, put in a ConfigMap: sets --webhook-template ("" the Slack-compatible default)'),
    }), 'webhook notices (README, "Webhook notices")'),
    service: d(obj({
      enabled: d(z.boolean(), 'render the metrics Service'),
      type: d(z.enum(['ClusterIP', 'NodePort', 'LoadBalancer']), 'its type'),
      port: d(z.int().min(1).max(65535), 'its port'),
      annotations: d(strings, 'its annotations'),
    }), 'the metrics Service'),
    serviceMonitor: d(monitor('ServiceMonitor'), 'a ServiceMonitor on the metrics Service'),
    podMonitor: d(monitor('PodMonitor'), 'a PodMonitor on the pods (instead of the ServiceMonitor)'),
    prometheusRule: d(obj({
      enabled: d(z.boolean(), 'render the alerts as a PrometheusRule (needs the Prometheus Operator\'s CRDs)'),
      namespace: d(z.string(), 'namespace of the PrometheusRule; "" is the release namespace'),
      labels: d(strings, 'labels on the PrometheusRule, e.g. the one your Prometheus selects rules by'),
      alertLabels: d(strings, 'labels added to every alert, besides severity, release and namespace'),
      selector: d(z.string(), 'PromQL label matchers of this release\'s series; "" is its namespace and pods'),
      runbookBaseUrl: d(z.string().regex(/^(https?:\/\/\S+)?$/u), 'URL where docs/runbooks.md is served; each alert\'s runbook_url is it plus the alert\'s section. "": no runbook_url'),
      alerts: d(alertsSchema(alerts), 'each alert: enabled, threshold, for, severity'),
      additionalRules: d(kubeList, 'your own rules, as a second group'),
    }), 'alerts'),
    grafanaDashboard: d(obj({
      enabled: d(z.boolean(), 'render the Grafana dashboard as a ConfigMap for the Grafana sidecar'),
      namespace: d(z.string(), 'namespace the sidecar watches; "" is the release namespace'),
      labels: d(strings, 'labels the sidecar selects by'),
      annotations: d(strings, 'annotations'),
    }), 'the Grafana dashboard'),
  });
}

/** values.schema.json's content. */
export function valuesSchemaJson(modules) {
  const schema = z.toJSONSchema(valuesZod(modules), { target: 'draft-7' });
  return `${JSON.stringify({ ...schema, title: 'lifecycle-manager chart values (generated by npm run docs from src/cli/serveFlags.ts and files/alerts.yaml)' }, null, 2)}\n`;
}

/** The JSON Schema type of a property, in words. */
function typeOf(s) {
  if (s.anyOf) return [...new Set(s.anyOf.map(typeOf))].join(' or ');
  if (Array.isArray(s.type)) return s.type.map((t) => typeOf({ ...s, type: t })).join(' or ');
  if (s.enum) return s.enum.map((v) => JSON.stringify(v)).join(', ');
  if (s.const !== undefined) return JSON.stringify(s.const);
  if (s.type === 'array') return `list of ${s.items ? typeOf(s.items) : 'any'}`;
  if (s.type === 'integer') {
    const [min, max] = [s.minimum, s.maximum].map((n) => (n === undefined || Math.abs(n) === Number.MAX_SAFE_INTEGER ? undefined : n));
    if (min !== undefined && max !== undefined) return `integer ${min}-${max}`;
    return min !== undefined ? `integer >= ${min}` : 'integer';
  }
  if (s.type === 'object' && !s.properties) return 'object';
  return s.type ?? 'any';
}

const cell = (s) => String(s).replaceAll('|', '\\|').replaceAll('\n', ' ').split(/(`[^`]*`)/u).map((part, i) => (i % 2 === 0 ? part.replaceAll('<', '&lt;') : part)).join('');

/** One row per leaf value: key, type, default, description. Objects with their own properties are opened up. */
export function valuesTable(schema, values) {
  const rows = [];
  const walk = (s, path, value) => {
    for (const [key, prop] of Object.entries(s.properties ?? {})) {
      const name = path ? `${path}.${key}` : key;
      const v = value?.[key];
      if (prop.type === 'object' && prop.properties) walk(prop, name, v);
      else rows.push(`| \`${name}\` | ${cell(typeOf(prop))} | ${v === undefined ? '–' : `\`${cell(JSON.stringify(v))}\``} | ${cell(prop.description ?? '')} |`);
    }
  };
  walk(schema, '', values);
  return ['| Key | Type | Default | Description |', '|---|---|---|---|', ...rows].join('\n');
}

/** The chart's README.md. */
export function chartReadme(modules) {
  const chart = k8s.loadYaml(readFileSync(join(CHART, 'Chart.yaml'), 'utf8'));
  const values = k8s.loadYaml(readFileSync(join(CHART, 'values.yaml'), 'utf8'));
  const schema = JSON.parse(valuesSchemaJson(modules));
  return `# lifecycle-manager Helm chart

<!-- Generated by \`npm run docs\` (scripts/chart-docs.mjs) from values.yaml and values.schema.json; do not edit. -->

${chart.description}

Version ${chart.version}, lifecycle-manager ${chart.appVersion}, Kubernetes ${chart.kubeVersion}.${chart.home ? ` Source: ${chart.home}.` : ''}
The project's README (Install on EKS, IAM, RBAC) and \`docs/runbooks.md\` (what to do for each alert) are in its source
tree, beside \`deploy/helm/\`; set \`prometheusRule.runbookBaseUrl\` to where you serve the runbooks and each alert links
its section.

## Install

\`\`\`sh
helm install lifecycle-manager deploy/helm/lifecycle-manager --namespace lifecycle-manager --create-namespace \\
  --set image.repository=111122223333.dkr.ecr.us-west-2.amazonaws.com/lifecycle-manager \\
  --set flags.queue-name=lifecycle-manager-queue --set flags.region=us-west-2
\`\`\`

Values are checked against \`values.schema.json\` by \`helm install\`, \`upgrade\`, \`template\` and \`lint\`: an unknown
key (a misspelled flag under \`flags\`) or a wrong type (\`--set replicas=two\`) fails at once, naming the key.

## Values

${valuesTable(schema, values)}
`;
}

/** Writes values.schema.json and README.md of the chart when they differ from a fresh render. */
export function writeChartDocs(SERVE_FLAGS, log = (line) => process.stderr.write(`${line}\n`)) {
  const modules = { flags: SERVE_FLAGS, alerts: readAlerts() };
  for (const [file, content] of [['values.schema.json', valuesSchemaJson(modules)], ['README.md', chartReadme(modules)]]) {
    const path = join(CHART, file);
    let old;
    try { old = readFileSync(path, 'utf8'); } catch { old = undefined; }
    if (old !== content) writeFileSync(path, content);
    log(`docs: ${old === content ? 'unchanged' : 'wrote'} deploy/helm/lifecycle-manager/${file}`);
  }
}
