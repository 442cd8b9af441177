import { readFileSync } from 'node:fs';
import * as k8s from '@kubernetes/client-node';
import type { Histogram } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { Metrics } from '../../../src/observability/metrics.js';
// @ts-expect-error -- plain JavaScript module without type declarations
import { dashboardJson } from '../../../scripts/grafana-dashboard.mjs';

// The shipped alerts and dashboard query series by name; a renamed or removed series must fail here, not silently
// in someone's Grafana.
const root = new URL('../../../', import.meta.url);
const read = (path: string): string => readFileSync(new URL(path, root), 'utf8');

const registry = new Metrics().registry;
const SERIES_NAME = /\b(?:lifecycle_manager|process|nodejs)_[a-z0-9_]+/gu;

interface Alert { alert: string; expr: string; runbook: string; summary: string; description: string }
const alerts = k8s.loadYaml<Alert[]>(read('deploy/helm/lifecycle-manager/files/alerts.yaml'));
const alertSettings = k8s.loadYaml<{ prometheusRule: { alerts: Record<string, { severity?: string }> } }>(read('deploy/helm/lifecycle-manager/values.yaml')).prometheusRule.alerts;
const dashboard = JSON.parse(read('deploy/grafana/lifecycle-manager.json')) as { panels: { targets?: { expr: string }[] }[] };
const dashboardExprs = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr));

function histogram(name: string): { upperBounds: number[] } | undefined {
  const metric = registry.getSingleMetric(name) as (Histogram & { type: string; upperBounds: number[] }) | undefined;
  return metric?.type === 'histogram' ? metric : undefined;
}

/** Problems with one PromQL expression: series that are not exported, histogram buckets that do not exist. */
function problems(expr: string): string[] {
  const out: string[] = [];
  for (const [name] of expr.matchAll(SERIES_NAME)) {
    if (registry.getSingleMetric(name)) continue;
    const base = name.replace(/_(bucket|sum|count)$/u, '');
    if (base === name || histogram(base) === undefined) out.push(`${name} is not exported`);
  }
  // le="60", or le=~"60|60\\.0" (Prometheus 2 and 3 spell the bucket differently): every spelling must be a bucket.
  for (const m of expr.matchAll(/([a-z_]+)_bucket\{[^}]*le=~?"([^"]+)"/gu)) {
    const bounds = histogram(m[1]!)?.upperBounds ?? [];
    for (const le of m[2]!.replaceAll('\\\\', '\\').split('|').map((v) => v.replace('\\.', '.'))) {
      if (!bounds.includes(Number(le))) out.push(`${m[1]} has no bucket le="${le}" (buckets: ${bounds.join(', ')})`);
    }
  }
  return out;
}

describe('the shipped alerts (files/alerts.yaml)', () => {
  it('cover failed hooks, ABANDONs, heartbeat failures and a close hook deadline', () => {
    const exprs = alerts.map((a) => a.expr).join('\n');
    for (const needle of ['lifecycle_manager_failed_events_total', 'result="ABANDON"', 'result="retried"', 'result="gone"', 'lifecycle_manager_hook_deadline_margin_seconds_bucket']) {
      expect(exprs).toContain(needle);
    }
  });

  it('query only series the service exports', () => {
    expect(alerts.flatMap((a) => problems(a.expr).map((p) => `${a.alert}: ${p}`))).toEqual([]);
  });

  it('each have a severity, a summary and a runbook: a section of docs/runbooks.md that says what to do', () => {
    const runbooks = read('docs/runbooks.md');
    const anchors = [...runbooks.matchAll(/^## (.+)$/gmu)].map((m) => m[1]!.trim().toLowerCase().replace(/[^a-z0-9 -]/gu, '').replaceAll(' ', '-'));
    for (const a of alerts) {
      expect(alertSettings[a.alert]?.severity, a.alert).toMatch(/^(warning|critical)$/u);
      expect(a.summary, a.alert).toBeTruthy();
      expect(anchors, `docs/runbooks.md needs a section "## ${a.alert}"`).toContain(a.runbook);
      const section = runbooks.split(/^## /mu).find((t) => t.startsWith(a.alert)) ?? '';
      expect(section, a.alert).toMatch(/\*\*What to do\*\*/u);
    }
    expect(Object.keys(alertSettings).sort()).toEqual(alerts.map((a) => a.alert).sort());
  });
});

describe('the Grafana dashboard', () => {
  it('queries only series the service exports', () => {
    expect(dashboardExprs.length).toBeGreaterThan(20);
    expect(dashboardExprs.flatMap((e) => problems(e).map((p) => `${p} in ${e}`))).toEqual([]);
  });

  it('shows every lifecycle_manager series somewhere', () => {
    const all = dashboardExprs.join('\n');
    const missing = registry.getMetricsAsArray().map((m) => m.name).filter((n) => n.startsWith('lifecycle_manager_') && !all.includes(n));
    expect(missing).toEqual([]);
  });

  it('is committed as generated, in deploy/grafana and in the chart (npm run manifests)', () => {
    const expected = dashboardJson() as string;
    expect(read('deploy/grafana/lifecycle-manager.json')).toBe(expected);
    expect(read('deploy/helm/lifecycle-manager/files/grafana-dashboard.json')).toBe(expected);
  });
});
