import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../harness/infra.js';
import { e2eFixture } from './fixture.js';

// The chart's alerts, tested like code with promtool (built by scripts/testinfra.mjs from the Go module proxy):
// `check rules` on the rules the chart renders, `test rules` with series shaped as Prometheus 2 and Prometheus 3
// store them, and `check metrics` on a real scrape of serve.
const f = e2eFixture();
const RELEASE = 'lm';
const NAMESPACE = 'lm-alerts';
/** A pod of the release's Deployment, and one of another release in the same namespace. */
const POD = `${RELEASE}-lifecycle-manager-5d8f7c9b4-x2x7q`;
const OTHER_POD = `other-lifecycle-manager-6c9d8f7b5-q9w8e`;

interface Rule { alert: string; expr: string; for?: string; labels: Record<string, string>; annotations: Record<string, string> }
let helm: string;
let promtool: string;
let helmTemplate: (helm: string, args?: string[], names?: { release?: string; namespace?: string }) => string;
const dir = mkdtempSync(join(tmpdir(), 'lm-alerts-'));

beforeAll(async () => {
  const testinfra = (await import(join(f.info.repoRoot, 'scripts', 'testinfra.mjs'))) as { ensureHelm(): string; ensurePromtool(): string };
  ({ helmTemplate } = (await import(join(f.info.repoRoot, 'scripts', 'manifests.mjs'))) as { helmTemplate: typeof helmTemplate });
  helm = testinfra.ensureHelm();
  promtool = testinfra.ensurePromtool();
  await f.start();
});
afterAll(() => f.stop());

/** The groups of the PrometheusRule the chart renders with `extra` values. */
function renderedGroups(extra: string[] = []): { name: string; rules: Rule[] }[] {
  const objs = k8s.loadAllYaml(helmTemplate(helm, ['--set', 'prometheusRule.enabled=true', ...extra], { release: RELEASE, namespace: NAMESPACE })) as k8s.KubernetesObject[];
  const rule = objs.find((o) => o?.kind === 'PrometheusRule') as unknown as { spec: { groups: { name: string; rules: Rule[] }[] } };
  return rule.spec.groups;
}

function promtoolRun(args: string[], input?: string): { code: number | null; out: string } {
  const r = spawnSync(promtool, args, { encoding: 'utf8', timeout: 60_000, cwd: dir, ...(input === undefined ? {} : { input }) });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

/** A rules file as Prometheus loads it, annotations left out (promtool test rules compares them verbatim). */
function writeRules(name: string, groups: { name: string; rules: Rule[] }[], withAnnotations = true): string {
  const path = join(dir, name);
  const strip = (r: Rule) => (withAnnotations ? r : { ...r, annotations: undefined });
  writeFileSync(path, JSON.stringify({ groups: groups.map((g) => ({ ...g, rules: g.rules.map(strip) })) }));
  return path;
}

const series = (name: string, labels: Record<string, string>, values: string) => ({
  series: `${name}{${Object.entries({ namespace: NAMESPACE, pod: POD, job: `${RELEASE}-lifecycle-manager-metrics`, ...labels }).map(([k, v]) => `${k}="${v}"`).join(',')}}`,
  values,
});
const fired = (alert: string, labels: Record<string, string> = {}, severity = 'warning') => ({
  alertname: alert, exp_alerts: [{ exp_labels: { namespace: NAMESPACE, release: RELEASE, severity, ...labels } }],
});

/**
 * Unit tests of every alert: series that must fire it (and the release's own labels on the alert), series of another
 * release that must not, and the histogram bucket spelled `le` as the given Prometheus version stores it.
 */
function ruleTests(le: string) {
  return {
    evaluation_interval: '1m',
    tests: [
      {
        interval: '1m',
        input_series: [
          series('lifecycle_manager_failed_events_total', {}, '0 0 1 1 1'),
          series('lifecycle_manager_failed_events_total', { pod: OTHER_POD }, '0 5 10 15 20'),
          series('lifecycle_manager_lifecycle_actions_completed_total', { result: 'ABANDON', status: 'completed' }, '0 1 2 3 4'),
          series('lifecycle_manager_step_failures_total', { step: 'deregister', class: 'timeout', policy: 'degrade-and-continue' }, '0 0 1 1 1'),
          series('lifecycle_manager_heartbeats_total', { result: 'retried' }, '0 3 6 9 12'),
          series('lifecycle_manager_heartbeats_total', { result: 'gone' }, '0 0 0 1 1'),
          series('lifecycle_manager_hook_deadline_margin_seconds_bucket', { le }, '0 0 1 1 1'),
          series('lifecycle_manager_active_goroutines', {}, '3 3 3 3 3'),
        ],
        alert_rule_test: [
          { eval_time: '4m', ...fired('LifecycleManagerHookFailed') },
          { eval_time: '4m', ...fired('LifecycleManagerAbandonedActions', {}, 'critical') },
          { eval_time: '4m', ...fired('LifecycleManagerStepsDegraded', { step: 'deregister' }) },
          { eval_time: '4m', ...fired('LifecycleManagerHeartbeatsRetried') },
          { eval_time: '4m', ...fired('LifecycleManagerHeartbeatActionGone') },
          { eval_time: '4m', ...fired('LifecycleManagerHookDeadlineClose') },
          { eval_time: '4m', alertname: 'LifecycleManagerAbsent', exp_alerts: [] },
        ],
      },
      {
        // Only another release's series: this release's alerts stay quiet, except that it is absent.
        interval: '1m',
        input_series: [
          series('lifecycle_manager_failed_events_total', { pod: OTHER_POD }, '0 5 10 15 20'),
          series('lifecycle_manager_active_goroutines', { pod: OTHER_POD }, '3+0x20'),
        ],
        alert_rule_test: [
          { eval_time: '4m', alertname: 'LifecycleManagerHookFailed', exp_alerts: [] },
          { eval_time: '10m', alertname: 'LifecycleManagerAbsent', exp_alerts: [] },
          { eval_time: '16m', ...fired('LifecycleManagerAbsent') },
        ],
      },
    ],
  };
}

describe('the chart\'s alerts under promtool', () => {
  it('pass promtool check rules, each with a runbook_url to its section of docs/runbooks.md and the release\'s labels', () => {
    const runbooks = 'https://runbooks.example.test/lifecycle-manager/docs/runbooks.md';
    const groups = renderedGroups(['--set', `prometheusRule.runbookBaseUrl=${runbooks}`]);
    const { code, out } = promtoolRun(['check', 'rules', writeRules('rules.json', groups)]);
    process.stderr.write(`promtool check rules:\n${out}`);
    expect(code, out).toBe(0);
    expect(out).toMatch(/SUCCESS: 7 rules found/u);
    // The project has no public location: by default no alert links anywhere, rather than to a made-up URL.
    expect(renderedGroups().flatMap((g) => g.rules).filter((r) => 'runbook_url' in r.annotations).map((r) => r.alert)).toEqual([]);
    expect(() => renderedGroups(['--set', 'prometheusRule.runbookBaseUrl=docs/runbooks.md'])).toThrow(/runbookBaseUrl/u);
    for (const r of groups.flatMap((g) => g.rules)) {
      expect(r.annotations.runbook_url, r.alert).toBe(`${runbooks}#${r.alert.toLowerCase()}`);
      expect(r.labels, r.alert).toMatchObject({ release: RELEASE, namespace: NAMESPACE });
      expect(r.expr, r.alert).toContain(`namespace="${NAMESPACE}"`);
    }
  });

  it.each([['Prometheus 2', '60'], ['Prometheus 3', '60.0']])('pass promtool test rules with series as %s stores them (le="%s")', (_version, le) => {
    const rules = writeRules('rules-no-annotations.json', renderedGroups(), false);
    const tests = join(dir, `tests-${le}.json`);
    writeFileSync(tests, JSON.stringify({ rule_files: [rules], ...ruleTests(le) }));
    const { code, out } = promtoolRun(['test', 'rules', tests]);
    process.stderr.write(`promtool test rules (le="${le}"):\n${out}`);
    expect(code, out).toBe(0);
    expect(out).toMatch(/SUCCESS/u);
  });

  it('turn off, or take another threshold, for or severity, from values', () => {
    const groups = renderedGroups(['--set', [
      'prometheusRule.alerts.LifecycleManagerHookFailed.enabled=false',
      'prometheusRule.alerts.LifecycleManagerHeartbeatsRetried.threshold=10',
      'prometheusRule.alerts.LifecycleManagerHeartbeatsRetried.for=5m',
      'prometheusRule.alerts.LifecycleManagerHeartbeatsRetried.severity=critical',
      'prometheusRule.alertLabels.team=platform',
    ].join(',')]);
    const rules = groups.flatMap((g) => g.rules);
    expect(rules.map((r) => r.alert)).not.toContain('LifecycleManagerHookFailed');
    const retried = rules.find((r) => r.alert === 'LifecycleManagerHeartbeatsRetried')!;
    expect(retried.expr).toMatch(/\) > 10$/u);
    expect([retried.for, retried.labels]).toEqual(['5m', { severity: 'critical', release: RELEASE, namespace: NAMESPACE, team: 'platform' }]);
    expect(promtoolRun(['check', 'rules', writeRules('rules-tuned.json', groups)]).code).toBe(0);
  });
});

describe('promtool check metrics on a real scrape', () => {
  /**
   * Upstream's names that promtool's lint flags, kept because dashboards and alerts depend on them; each has a
   * correctly named equivalent (CHANGELOG). The nodejs_* gauges are prom-client's default metrics.
   */
  const KEPT = [
    'lifecycle_manager_deregistering_instances_count non-histogram and non-summary metrics should not have "_count" suffix',
    'lifecycle_manager_draining_instances_count non-histogram and non-summary metrics should not have "_count" suffix',
    'lifecycle_manager_terminating_instances_count non-histogram and non-summary metrics should not have "_count" suffix',
    'nodejs_active_handles_total non-counter metrics should not have "_total" suffix',
    'nodejs_active_requests_total non-counter metrics should not have "_total" suffix',
    'nodejs_active_resources_total non-counter metrics should not have "_total" suffix',
  ];

  it('finds nothing but the upstream names that are kept, after a termination fills the labelled series', async () => {
    const world = await f.world({ instances: 1, heartbeatTimeoutSeconds: 30, podsPerNode: 1 });
    const [victim] = world.instances;
    const lm = await f.serve(world, ['--polling-interval', '1', '--drain-interval', '1', '--with-deregister=false']);
    await world.terminate(victim!.instanceId);
    await eventually('the action to complete CONTINUE', async () => (await f.actions(victim!.instanceId))[0]?.result === 'CONTINUE', 60_000);
    const scrape = await lm.metricsText();
    expect(scrape).toMatch(/^lifecycle_manager_phase_duration_seconds_bucket\{/mu);
    const { out } = promtoolRun(['check', 'metrics'], scrape);
    process.stderr.write(`promtool check metrics:\n${out}`);
    expect(out.split('\n').filter(Boolean).sort()).toEqual([...KEPT].sort());
    // Each kept name has its equivalent, with the same value.
    for (const name of ['terminating_instances', 'draining_instances', 'deregistering_instances']) {
      expect(await lm.metric(`lifecycle_manager_${name}`)).toBe(await lm.metric(`lifecycle_manager_${name}_count`));
    }
  });
});
