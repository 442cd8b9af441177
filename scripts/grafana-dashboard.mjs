// Builds the Grafana dashboard (deploy/grafana/lifecycle-manager.json and the chart's files/grafana-dashboard.json)
// from a short list of panels, so the JSON stays regular and every query is easy to check against
// src/observability/metrics.ts (a unit test does). `npm run manifests` writes it; nothing here reads the network.

/** `§` in an expression is replaced by the dashboard's label selector. */
const SEL = '{namespace=~"$namespace", pod=~"$pod"}';
const q = (expr, legend) => ({ expr: expr.replaceAll('§', SEL), legend });
const rate = (series) => `rate(${series}§[$__rate_interval])`;
/** Generic process series, restricted to the pods that export lifecycle-manager's own series. */
const ours = (expr) => `${expr} and on (namespace, pod) lifecycle_manager_active_goroutines§`;
const quantile = (p, series, by) => `histogram_quantile(${p}, sum by (le${by ? `, ${by}` : ''}) (${rate(`${series}_bucket`)}))`;

/** Rows of panels: [title, kind, unit, queries]. Stats are 4 wide, time series 12 (two per line). */
const ROWS = [
  ['Now', [
    ['Terminating instances', 'stat', 'short', [q('sum(lifecycle_manager_terminating_instances§) or sum(lifecycle_manager_terminating_instances_count§)', 'terminating')]],
    ['Draining', 'stat', 'short', [q('sum(lifecycle_manager_draining_instances§) or sum(lifecycle_manager_draining_instances_count§)', 'draining')]],
    ['Deregistering', 'stat', 'short', [q('sum(lifecycle_manager_deregistering_instances§) or sum(lifecycle_manager_deregistering_instances_count§)', 'deregistering')]],
    ['Succeeded (24 h)', 'stat', 'short', [q('sum(increase(lifecycle_manager_successful_events_total§[24h]))', 'succeeded')]],
    ['Failed (24 h)', 'stat', 'short', [q('sum(increase(lifecycle_manager_failed_events_total§[24h]))', 'failed')]],
    ['Average duration', 'stat', 's', [q('max(lifecycle_manager_average_duration_seconds§)', 'average')]],
  ]],
  ['Lifecycle actions', [
    ['Events', 'timeseries', 'ops', [
      q(`sum(${rate('lifecycle_manager_successful_events_total')})`, 'successful'),
      q(`sum(${rate('lifecycle_manager_failed_events_total')})`, 'failed'),
      q(`sum(${rate('lifecycle_manager_rejected_events_total')})`, 'rejected'),
    ]],
    ['CompleteLifecycleAction by result', 'timeseries', 'ops', [
      q(`sum by (result, status) (${rate('lifecycle_manager_lifecycle_actions_completed_total')})`, '{{result}} ({{status}})'),
    ]],
    ['Event duration', 'timeseries', 's', [
      q(quantile(0.5, 'lifecycle_manager_event_duration_seconds', 'result'), 'p50 {{result}}'),
      q(quantile(0.9, 'lifecycle_manager_event_duration_seconds', 'result'), 'p90 {{result}}'),
      q(quantile(0.99, 'lifecycle_manager_event_duration_seconds', 'result'), 'p99 {{result}}'),
    ]],
    ['Step duration (p90)', 'timeseries', 's', [
      q(quantile(0.9, 'lifecycle_manager_phase_duration_seconds', 'phase'), '{{phase}}'),
    ]],
    ['Step failures by step, class and policy', 'timeseries', 'ops', [
      q(`sum by (step, class, policy) (${rate('lifecycle_manager_step_failures_total')})`, '{{step}} {{class}} → {{policy}}'),
    ]],
    ['Time left before the hook deadline at completion', 'timeseries', 's', [
      q(quantile(0.1, 'lifecycle_manager_hook_deadline_margin_seconds'), 'p10'),
      q(quantile(0.5, 'lifecycle_manager_hook_deadline_margin_seconds'), 'p50'),
    ]],
    ['Heartbeats', 'timeseries', 'ops', [
      q(`sum by (result) (${rate('lifecycle_manager_heartbeats_total')})`, '{{result}}'),
    ]],
  ]],
  ['Drain, node deletion and load balancers', [
    ['Pod evictions', 'timeseries', 'ops', [
      q(`sum by (outcome) (${rate('lifecycle_manager_pod_evictions_total')})`, '{{outcome}}'),
    ]],
    ['Drain tiers and volume detachment (p90)', 'timeseries', 's', [
      q(`histogram_quantile(0.9, sum by (le, phase) (rate(lifecycle_manager_phase_duration_seconds_bucket{namespace=~"$namespace", pod=~"$pod", phase=~"drain_tier_.*|await_volumes"}[$__rate_interval])))`, '{{phase}}'),
    ]],
    ['Drain plan problems (before the first eviction)', 'timeseries', 'ops', [
      q(`sum by (kind) (${rate('lifecycle_manager_drain_plan_problems_total')})`, '{{kind}}'),
    ]],
    ['Dry-run plans (--dry-run)', 'timeseries', 'ops', [
      q(`sum by (outcome) (${rate('lifecycle_manager_dry_run_plans_total')})`, '{{outcome}}'),
    ]],
    ['Volume detachment waits', 'timeseries', 'ops', [
      q(`sum by (outcome) (${rate('lifecycle_manager_volume_detachment_waits_total')})`, '{{outcome}}'),
    ]],
    ['Node drains and deletions', 'timeseries', 'ops', [
      q(`sum(${rate('lifecycle_manager_successful_node_drain_total')})`, 'drain succeeded'),
      q(`sum(${rate('lifecycle_manager_failed_node_drain_total')})`, 'drain failed'),
      q(`sum(${rate('lifecycle_manager_successful_node_delete_total')})`, 'delete succeeded'),
      q(`sum(${rate('lifecycle_manager_failed_node_delete_total')})`, 'delete failed'),
    ]],
    ['Load-balancer deregistrations', 'timeseries', 'ops', [
      q(`sum(${rate('lifecycle_manager_successful_lb_deregister_total')})`, 'succeeded'),
      q(`sum(${rate('lifecycle_manager_failed_lb_deregister_total')})`, 'failed'),
    ]],
    ['Load-balancer deregistration wait (p90)', 'timeseries', 's', [
      q(quantile(0.9, 'lifecycle_manager_lb_deregistration_wait_seconds', 'type'), '{{type}}'),
    ]],
    ['Webhook notices by event and outcome', 'timeseries', 'ops', [
      q(`sum by (event, outcome) (${rate('lifecycle_manager_webhook_deliveries_total')})`, '{{event}} {{outcome}}'),
    ]],
    ['Webhook attempts that failed, by code', 'timeseries', 'ops', [
      q(`sum by (code) (${rate('lifecycle_manager_webhook_failed_attempts_total')})`, '{{code}}'),
    ]],
  ]],
  ['Queue, API calls and the process', [
    ['SQS messages', 'timeseries', 'ops', [
      q(`sum by (outcome, reason) (${rate('lifecycle_manager_messages_total')})`, '{{outcome}} ({{reason}})'),
    ]],
    ['AWS API calls', 'timeseries', 'ops', [
      q(`sum by (service, operation) (${rate('lifecycle_manager_aws_api_calls_total')})`, '{{service}} {{operation}}'),
    ]],
    ['Kubernetes API calls', 'timeseries', 'ops', [
      q(`sum by (verb, resource) (${rate('lifecycle_manager_kube_api_calls_total')})`, '{{verb}} {{resource}}'),
    ]],
    ['API errors (every failed attempt, retried ones included)', 'timeseries', 'ops', [
      q(`sum by (api, operation, code) (${rate('lifecycle_manager_api_errors_total')})`, '{{api}} {{operation}} {{code}}'),
    ]],
    ['Concurrent tasks', 'timeseries', 'short', [q('sum by (pod) (lifecycle_manager_active_goroutines§)', '{{pod}}')]],
    ['Memory (resident)', 'timeseries', 'bytes', [q(`sum by (pod) (${ours('process_resident_memory_bytes§')})`, '{{pod}}')]],
    ['CPU and event-loop lag', 'timeseries', 'short', [
      q(`sum by (pod) (${ours(rate('process_cpu_seconds_total'))})`, 'cpu {{pod}}'),
      q(`max by (pod) (${ours('nodejs_eventloop_lag_p99_seconds§')})`, 'lag p99 (s) {{pod}}'),
    ]],
  ]],
];

function panel(id, [title, kind, unit, queries], gridPos) {
  return {
    id,
    type: kind,
    title,
    datasource: { type: 'prometheus', uid: '${datasource}' },
    gridPos,
    fieldConfig: { defaults: { unit, ...(kind === 'timeseries' ? { custom: { fillOpacity: 10, showPoints: 'never' } } : {}) }, overrides: [] },
    options: kind === 'stat'
      ? { reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false }, colorMode: 'value', graphMode: 'area', textMode: 'auto' }
      : { legend: { displayMode: 'list', placement: 'bottom', showLegend: true }, tooltip: { mode: 'multi', sort: 'desc' } },
    targets: queries.map((t, i) => ({
      refId: String.fromCharCode(65 + i),
      datasource: { type: 'prometheus', uid: '${datasource}' },
      expr: t.expr,
      legendFormat: t.legend,
      ...(kind === 'stat' ? { instant: true } : {}),
    })),
  };
}

/** The dashboard as an object (JSON.stringify it with two-space indentation). */
export function buildDashboard() {
  const panels = [];
  let id = 1;
  let y = 0;
  for (const [title, rowPanels] of ROWS) {
    panels.push({ id: id++, type: 'row', title, collapsed: false, gridPos: { h: 1, w: 24, x: 0, y }, panels: [] });
    y += 1;
    let x = 0;
    for (const p of rowPanels) {
      const [w, h] = p[1] === 'stat' ? [4, 4] : [12, 8];
      if (x + w > 24) {
        x = 0;
        y += h;
      }
      panels.push(panel(id++, p, { h, w, x, y }));
      x += w;
    }
    y += rowPanels[rowPanels.length - 1][1] === 'stat' ? 4 : 8;
  }
  const variable = (name, label, query) => ({
    name, label, type: 'query', datasource: { type: 'prometheus', uid: '${datasource}' },
    query: { query, refId: name }, definition: query, includeAll: true, multi: true, allValue: '.*',
    current: { selected: true, text: ['All'], value: ['$__all'] }, refresh: 2, sort: 1,
  });
  return {
    uid: 'lifecycle-manager',
    title: 'lifecycle-manager',
    description: 'Graceful AWS Auto Scaling terminations: lifecycle actions, drains, load balancers, queue and API calls.',
    tags: ['lifecycle-manager', 'aws', 'autoscaling'],
    editable: true,
    graphTooltip: 1,
    schemaVersion: 39,
    version: 1,
    refresh: '30s',
    time: { from: 'now-6h', to: 'now' },
    timezone: '',
    annotations: { list: [] },
    templating: {
      list: [
        { name: 'datasource', label: 'Data source', type: 'datasource', query: 'prometheus', current: {}, hide: 0 },
        variable('namespace', 'Namespace', 'label_values(lifecycle_manager_active_goroutines, namespace)'),
        variable('pod', 'Pod', 'label_values(lifecycle_manager_active_goroutines{namespace=~"$namespace"}, pod)'),
      ],
    },
    panels,
  };
}

export function dashboardJson() {
  return `${JSON.stringify(buildDashboard(), null, 2)}\n`;
}
