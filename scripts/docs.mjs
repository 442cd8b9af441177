#!/usr/bin/env node
// Regenerates the documentation that is derived from the code (`npm run docs`, after `npm run build`):
//   - README.md, between `<!-- BEGIN GENERATED x -->` and `<!-- END GENERATED x -->`: the termination steps
//     (src/lifecycle/terminationSteps.ts), the serve flags
//     (src/cli/serveFlags.ts), the metrics (src/observability/metrics.ts), the Events (src/observability/nodeEvents.ts),
//     the chart's alerts (files/alerts.yaml, with values.yaml's defaults) and RBAC rules (files/*role-rules.yaml);
//   - docs/cli.md: every command's `--help`, from the built CLI;
//   - the chart's values.schema.json and README.md (scripts/chart-docs.mjs).
// Unit tests render the README sections from the TypeScript sources with the same functions and compare, and an
// e2e test compares docs/cli.md and the flags table with the built CLI, so stale docs fail CI.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as k8s from '@kubernetes/client-node';

export const repoRoot = resolve(fileURLToPath(new URL('.', import.meta.url)), '..');

/** The 14 series upstream keikoproj/lifecycle-manager exports (same names and meaning here). */
const UPSTREAM_SERIES = new Set([
  'active_goroutines', 'terminating_instances_count', 'draining_instances_count', 'deregistering_instances_count',
  'average_duration_seconds', 'successful_events_total', 'failed_events_total', 'rejected_events_total',
  'successful_node_drain_total', 'failed_node_drain_total', 'successful_node_delete_total', 'failed_node_delete_total',
  'successful_lb_deregister_total', 'failed_lb_deregister_total',
].map((s) => `lifecycle_manager_${s}`));

/** A table cell: pipes escaped, and `<` outside code spans, so that `<name>` is not taken for an HTML tag. */
const cell = (s) => String(s).replaceAll('|', '\\|').replaceAll('\n', ' ')
  .split(/(`[^`]*`)/u).map((part, i) => (i % 2 === 0 ? part.replaceAll('<', '&lt;') : part)).join('');
const code = (s) => `\`${s}\``;
const table = (head, rows) => [
  `| ${head.join(' | ')} |`,
  `|${head.map(() => '---').join('|')}|`,
  ...rows.map((r) => `| ${r.map(cell).join(' | ')} |`),
].join('\n');

/** How the README shows a flag's default. */
export function shownDefault(value) {
  return value === '' ? '(none)' : code(value);
}

/** `flags`: one row per serve flag. */
export function flagsTable(flags, envVarName) {
  return table(['Flag', 'Default', 'Environment variable', 'Origin', 'Description'],
    flags.map((f) => [code(`--${f.name}`), shownDefault(f.defaultValue), code(envVarName(f.name)), f.upstream ? 'upstream' : 'new', f.description]));
}

/** `metrics`: every `lifecycle_manager_*` series of a Metrics instance's registry. */
export function metricsTable(registry) {
  const rows = registry.getMetricsAsArray()
    .filter((m) => m.name.startsWith('lifecycle_manager_'))
    .map((m) => [code(m.name), m.type, (m.labelNames ?? []).map(code).join(', ') || '–', UPSTREAM_SERIES.has(m.name) ? 'upstream' : 'new', m.help]);
  return table(['Series', 'Type', 'Labels', 'Origin', 'Meaning'], rows);
}

/** Stand-in argument: prints as `{name}` whatever is done with it (template literal, toFixed, join…). */
function placeholder(name) {
  const text = `{${name}}`;
  return new Proxy({}, {
    get: (_t, prop) => (prop === Symbol.toPrimitive ? () => text : prop === 'length' ? 1 : () => text),
  });
}

function parameterNames(fn) {
  const m = /^[^(]*\(([^)]*)\)/u.exec(fn.toString());
  return (m?.[1] ?? '').split(',').map((p) => p.replace(/[:=].*$/su, '').trim()).filter(Boolean);
}

/** `events`: every entry of NodeEvents, called with `{parameter}` placeholders. */
export function eventsTable(nodeEvents) {
  const rows = Object.values(nodeEvents).map((make) => {
    const event = make(...parameterNames(make).map(placeholder));
    return [code(event.reason), event.type, event.message];
  });
  return table(['Reason', 'Type', 'Message'], rows);
}

/** Rules of a `*-rules.yaml` file, each with the comment at the end of its lines (why it is needed). */
export function parseRules(text) {
  const chunks = text.split(/^(?=- )/mu).filter((c) => c.startsWith('- '));
  return chunks.map((chunk) => {
    const [rule] = k8s.loadYaml(chunk);
    const why = [...chunk.matchAll(/#\s*(.+)$/gmu)].map((m) => m[1].trim()).join('; ');
    return { ...rule, why };
  });
}

/** `rbac`: the ClusterRole's rules (and the namespaced Role's, when the chart has one). */
export function rbacTable(clusterRulesText, roleRulesText) {
  const rows = (scope, text) => parseRules(text).map((r) => [
    scope, (r.apiGroups ?? []).map((g) => (g === '' ? 'core' : g)).join(', '), (r.resources ?? []).map(code).join(', '),
    (r.verbs ?? []).join(', '), r.why,
  ]);
  return table(['Scope', 'API group', 'Resources', 'Verbs', 'Why'],
    [...rows('cluster', clusterRulesText), ...(roleRulesText ? rows('release namespace', roleRulesText) : [])]);
}

/**
 * `alerts`: the chart's alerts (files/alerts.yaml) with values.yaml's defaults (threshold, for, severity). The
 * chart adds the release's own series selector to every expression; the table leaves it out.
 */
export function alertsTable(alertsText, valuesText) {
  const settings = k8s.loadYaml(valuesText).prometheusRule.alerts;
  const rows = k8s.loadYaml(alertsText).map((a) => {
    const s = settings[a.alert] ?? {};
    const expr = a.expr.replace(/,__SELECTOR__|\{__SELECTOR__\}/gu, '').replace('__THRESHOLD__', String(s.threshold));
    return [code(a.alert), s.severity ?? '', a.summary, code(expr.trim()) + (s.for ? ` for ${s.for}` : ''), `[runbook](docs/runbooks.md#${a.runbook})`];
  });
  return table(['Alert', 'Severity', 'Means', 'Expression (defaults)', 'What to do'], rows);
}

const CHART_FILES = join(repoRoot, 'deploy', 'helm', 'lifecycle-manager', 'files');

export function readRulesFiles() {
  const role = join(CHART_FILES, 'role-rules.yaml');
  return {
    cluster: readFileSync(join(CHART_FILES, 'clusterrole-rules.yaml'), 'utf8'),
    role: existsSync(role) ? readFileSync(role, 'utf8') : undefined,
  };
}

/** `steps`: the termination table (src/lifecycle/terminationSteps.ts), in the default --deregister-order. */
export function stepsTable(stepRows) {
  return table(['Step', 'Phase recorded', 'Share of the deadline', 'On failure', 'Why', 'On resume'],
    stepRows('before-drain', { taint: true }).map((s) => [code(s.name), s.phase ? code(s.phase) : '–', s.share, code(s.onFailure), s.why,
      s.onResume === 'rerun' ? 'runs again' : 'skipped once past']));
}

/** Every generated README section, from the modules (src/ in tests, dist/ for `npm run docs`). */
export function readmeSections({ SERVE_FLAGS, envVarName, Metrics, NodeEvents, stepRows }) {
  const rules = readRulesFiles();
  return {
    steps: stepsTable(stepRows),
    flags: flagsTable(SERVE_FLAGS, envVarName),
    metrics: metricsTable(new Metrics({ defaultMetrics: false }).registry),
    events: eventsTable(NodeEvents),
    alerts: alertsTable(readFileSync(join(CHART_FILES, 'alerts.yaml'), 'utf8'), readFileSync(join(CHART_FILES, '..', 'values.yaml'), 'utf8')),
    rbac: rbacTable(rules.cluster, rules.role),
  };
}

const BEGIN = (name) => `<!-- BEGIN GENERATED ${name} (npm run docs) -->`;
const END = (name) => `<!-- END GENERATED ${name} -->`;

/** The text between a section's markers (undefined when the markers are missing). */
export function sectionOf(text, name) {
  const start = text.indexOf(BEGIN(name));
  const end = text.indexOf(END(name));
  if (start < 0 || end < start) return undefined;
  return text.slice(start + BEGIN(name).length, end).trim();
}

/** `text` with each section's content replaced; throws on a missing marker. */
export function withSections(text, sections) {
  let out = text;
  for (const [name, body] of Object.entries(sections)) {
    const start = out.indexOf(BEGIN(name));
    const end = out.indexOf(END(name));
    if (start < 0 || end < start) throw new Error(`README.md has no markers for the generated section "${name}": ${BEGIN(name)} … ${END(name)}`);
    out = `${out.slice(0, start + BEGIN(name).length)}\n${body}\n${out.slice(end)}`;
  }
  return out;
}

/** docs/cli.md: the built CLI's `--help` for the root command and each subcommand (help excluded). */
export function cliReference(mainJs) {
  const help = (...args) => execFileSync(process.execPath, [mainJs, ...args, '--help'], {
    encoding: 'utf8', timeout: 30_000, env: { PATH: process.env.PATH ?? '' },
  }).trimEnd();
  const root = help();
  const commands = [...(root.split(/^Commands:$/mu)[1] ?? '').matchAll(/^ {2}([a-z][a-z0-9-]*)\b/gmu)]
    .map((m) => m[1]).filter((c) => c !== 'help');
  return [
    '# Command reference',
    '',
    '<!-- Generated by `npm run docs` from the built CLI\'s --help; do not edit (an e2e test compares). -->',
    '',
    '```text',
    '$ lifecycle-manager --help',
    root,
    '```',
    ...commands.flatMap((c) => ['', `## ${c}`, '', '```text', `$ lifecycle-manager ${c} --help`, help(c), '```']),
    '',
  ].join('\n');
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const dist = (p) => import(join(repoRoot, 'dist', 'src', p));
  const [{ SERVE_FLAGS, envVarName }, { Metrics }, { NodeEvents }, { stepRows }] = await Promise.all([
    dist('cli/serveFlags.js'), dist('observability/metrics.js'), dist('observability/nodeEvents.js'), dist('lifecycle/terminationSteps.js'),
  ]);
  const readmePath = join(repoRoot, 'README.md');
  const readme = readFileSync(readmePath, 'utf8');
  const next = withSections(readme, readmeSections({ SERVE_FLAGS, envVarName, Metrics, NodeEvents, stepRows }));
  if (next !== readme) writeFileSync(readmePath, next);
  process.stderr.write(`docs: ${next === readme ? 'unchanged' : 'wrote'} README.md\n`);
  const cliPath = join(repoRoot, 'docs', 'cli.md');
  const cli = cliReference(join(repoRoot, 'dist', 'src', 'cli', 'main.js'));
  const old = existsSync(cliPath) ? readFileSync(cliPath, 'utf8') : undefined;
  if (old !== cli) {
    mkdirSync(join(repoRoot, 'docs'), { recursive: true });
    writeFileSync(cliPath, cli);
  }
  process.stderr.write(`docs: ${old === cli ? 'unchanged' : 'wrote'} docs/cli.md\n`);
  const { writeChartDocs } = await import('./chart-docs.mjs');
  writeChartDocs(SERVE_FLAGS);
}
