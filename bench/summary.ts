import type { BudgetCheck } from './figures.js';
import type { ScenarioReport, ScenarioSpec } from './scenarios.js';

const fmt = (v: number | null | undefined): string => (v === null || v === undefined ? 'n/a' : String(v));

/** The short human table printed on stderr after a scenario. */
export function summaryTable(spec: ScenarioSpec, r: ScenarioReport, checks: readonly BudgetCheck[]): string {
  const rows: Array<[string, string, string]> = [
    ['wall_s', fmt(r.wall_s), ''],
    ['results', Object.entries(r.results).map(([k, v]) => `${v} ${k}`).join(', '), ''],
    ['receipt_to_cordon_ms p50 / p99', `${fmt(r.receipt_to_cordon_ms.p50)} / ${fmt(r.receipt_to_cordon_ms.p99)}`, ''],
    ['completion_overhead_ms p50 / p99', `${fmt(r.completion_overhead_ms.p50)} / ${fmt(r.completion_overhead_ms.p99)}`, ''],
    ['aws_calls_per_event (no heartbeats)', fmt(r.aws_calls_per_event), ''],
    ['kube_calls_per_event', fmt(r.kube_calls_per_event), ''],
    ['kube_calls_per_event_without_evictions', fmt(r.kube_calls_per_event_without_evictions), ''],
    ['heartbeat_lateness_max_s', fmt(r.heartbeat_lateness_max_s), ''],
    ['rss_peak_mib', fmt(r.rss_peak_mib), ''],
    ['rss_idle_mib (before the window)', fmt(r.rss_idle_mib), ''],
    ['cpu_s', fmt(r.cpu_s), ''],
    ['deregistration_overshoot_s', fmt(r.deregistration_overshoot_s), ''],
    ['target groups (bound)', `${r.target_groups} (${r.target_groups_bound})`, ''],
    ['discovery_ms p50 / p99 / max', `${fmt(r.discovery_ms.p50)} / ${fmt(r.discovery_ms.p99)} / ${fmt(r.discovery_ms.max)}`, ''],
    ['elb_calls_per_minute_steady', fmt(r.elb_calls_per_minute_steady), ''],
    ['lb_index_build (before the window)', r.lb_index_build ? `${r.lb_index_build.seconds}s, ${r.lb_index_build.elb_calls} ELB calls` : 'n/a', ''],
  ];
  rows.push(['budgets:', '', '']);
  for (const c of checks) rows.push([`  ${c.figure}`, fmt(c.value), `${c.limit}  ${c.ok ? 'ok' : 'EXCEEDED'}`]);
  const width = Math.max(...rows.map((row) => row[0].length));
  const valueWidth = Math.max(...rows.map((row) => row[1].length));
  return [
    `── ${spec.name} ${spec.title}`,
    ...rows.map(([figure, value, budget]) => `   ${figure.padEnd(width)}  ${value.padStart(valueWidth)}  ${budget}`.trimEnd()),
  ].join('\n');
}
