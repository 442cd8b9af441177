import { type BudgetCheck, atMost, below } from './figures.js';
import type { LoadBalancerLayout } from './loadBalancerWorld.js';

/** The JSON object printed for each scenario (bench/README.md defines every figure). */
export interface ScenarioReport {
  readonly scenario: ScenarioName;
  readonly events: number;
  readonly target_groups: number;
  readonly pods_per_node: number;
  readonly wall_s: number;
  readonly receipt_to_cordon_ms: { p50: number | null; p99: number | null };
  readonly completion_overhead_ms: { p50: number | null; p99: number | null };
  readonly aws_calls_by_operation: Record<string, number>;
  readonly aws_calls_per_event: number;
  readonly kube_calls_by_verb_and_resource: Record<string, number>;
  readonly kube_calls_per_event: number;
  /** The same without `create pods/eviction` (one per pod, which no design can save): issue 12's Kubernetes budget. */
  readonly kube_calls_per_event_without_evictions: number;
  readonly heartbeat_lateness_max_s: number | null;
  readonly rss_peak_mib: number;
  /** The service's resident set just before the first termination (started, caches synced, nothing in flight). */
  readonly rss_idle_mib: number;
  readonly cpu_s: number;
  /** Not in the list: the S3 figure its budget needs (null where a scenario does not measure it). */
  readonly deregistration_overshoot_s: number | null;
  /** Not in the list: how the lifecycle actions ended, so a run that ABANDONed cannot pass for a good one. */
  readonly results: Record<string, number>;
  /** Target groups bound to the cluster by TargetGroupBindings. */
  readonly target_groups_bound: number;
  /** Per event: from the deregister step starting to discovery settling (the service's own log line), ms. */
  readonly discovery_ms: { p50: number | null; p99: number | null; max: number | null };
  /** Elastic Load Balancing calls per minute between the 10th and the 50th termination (spaced scenarios), else null. */
  readonly elb_calls_per_minute_steady: number | null;
  /** The region index's first build, before the window: how long it took and its Elastic Load Balancing calls. */
  readonly lb_index_build: { seconds: number; elb_calls: number } | null;
}

/** Figures that have budgets but no field of their own in the report. */
export interface SideFigures {
  /** LISTs of every node in the window that were not an informer (re)list, i.e. beyond its watch (re)connections. */
  readonly allNodesListsPerEvent: number;
  /** LISTs of pods without a `spec.nodeName` field selector in the window. */
  readonly allPodsListsPerEvent: number;
}

export const SCENARIO_NAMES = ['S1', 'S2', 'S3', 'S4', 'S5', 'S5b'] as const;
export type ScenarioName = (typeof SCENARIO_NAMES)[number];

export interface ScenarioSpec {
  readonly name: ScenarioName;
  readonly title: string;
  readonly events: number;
  /** Nodes of the cluster that are not terminated (the bound groups may hold them). */
  readonly stayingNodes: number;
  readonly podsPerNode: number;
  /** The region's target groups and what holds what; undefined: none. */
  readonly layout: LoadBalancerLayout | undefined;
  readonly deregistrationDelaySeconds: number;
  /** Terminations one every this many ms (a rolling replacement); 0: all at once. */
  readonly spacingMs: number;
  readonly heartbeatTimeoutSeconds: number;
  /** Service flags beyond `--log-format json` (everything else at its default). */
  readonly flags: readonly string[];
  /** Pods take terminationGracePeriodSeconds (30 s) × this to go once evicted (the fake kubelet's scale). */
  readonly graceScale: number;
  /** How often the emulator's lifecycle actions are polled (must stay well under the heartbeat interval). */
  readonly actionPollMs: number;
  /** Poll the one target's state every 100 ms to measure the deregistration wait's overshoot (S3). */
  readonly measureOvershoot: boolean;
  /** Bound on the whole scenario, setup and teardown included. */
  readonly timeoutMs: number;
  readonly budgets: (r: ScenarioReport, side: SideFigures) => BudgetCheck[];
}

const DEFAULTS = { stayingNodes: 0, spacingMs: 0, graceScale: 0.05, measureOvershoot: false } as const;

export const SCENARIOS: Readonly<Record<ScenarioName, ScenarioSpec>> = {
  S1: {
    ...DEFAULTS, name: 'S1', title: 'burst: 100 simultaneous terminations, 10 pods each, 200 target groups, 2 holding each instance',
    events: 100, podsPerNode: 10, layout: { kind: 'spread', targetGroups: 200, groupsPerInstance: 2 }, deregistrationDelaySeconds: 10,
    heartbeatTimeoutSeconds: 300, flags: ['--max-drain-concurrency', '32'], actionPollMs: 1_000, timeoutMs: 20 * 60_000,
    budgets: (r, side) => [
      atMost('aws_calls_per_event (without heartbeats)', r.aws_calls_per_event, 8),
      atMost('kube_calls_per_event_without_evictions', r.kube_calls_per_event_without_evictions, 12),
      atMost('all-nodes LISTs per event (beyond the informer\'s)', side.allNodesListsPerEvent, 0),
      atMost('all-pods LISTs per event (no spec.nodeName selector)', side.allPodsListsPerEvent, 0),
      below('receipt_to_cordon_ms.p99', r.receipt_to_cordon_ms.p99, 2_000),
    ],
  },
  S2: {
    ...DEFAULTS, name: 'S2', title: 'spike: 500 simultaneous terminations, 5 pods each',
    events: 500, podsPerNode: 5, layout: undefined, deregistrationDelaySeconds: 0,
    heartbeatTimeoutSeconds: 30, flags: [], actionPollMs: 2_000, timeoutMs: 30 * 60_000,
    budgets: (r) => [
      atMost('rss_peak_mib', r.rss_peak_mib, 150),
      atMost('heartbeat_lateness_max_s', r.heartbeat_lateness_max_s, 5),
    ],
  },
  S3: {
    ...DEFAULTS, name: 'S3', title: 'drain delay: one termination, target group deregistration_delay 30 s',
    events: 1, podsPerNode: 2, layout: { kind: 'spread', targetGroups: 1, groupsPerInstance: 1 }, deregistrationDelaySeconds: 30,
    heartbeatTimeoutSeconds: 300, flags: [], actionPollMs: 500, measureOvershoot: true, timeoutMs: 6 * 60_000,
    // One event in flight: the service's whole peak resident set, start-up included, as deployed.
    budgets: (r) => [below('deregistration_overshoot_s', r.deregistration_overshoot_s, 5), atMost('rss_peak_mib (one event in flight)', r.rss_peak_mib, 100)],
  },
  S4: {
    ...DEFAULTS, name: 'S4', title: 'EKS burst: 100 simultaneous terminations, 300 target groups, 10 bound by TargetGroupBindings holding every node (5, instance targets) or its pods (5, ip targets)',
    events: 100, podsPerNode: 5, layout: { kind: 'bound', instanceGroups: 5, ipGroups: 5, unboundGroups: 290, boundNodes: 'terminated' }, deregistrationDelaySeconds: 10,
    heartbeatTimeoutSeconds: 300, flags: [], actionPollMs: 1_000, timeoutMs: 25 * 60_000,
    budgets: (r) => [
      atMost('aws_calls_per_event (without heartbeats)', r.aws_calls_per_event, 5),
      atMost('kube_calls_per_event_without_evictions', r.kube_calls_per_event_without_evictions, 12),
    ],
  },
  S5: rolling('S5', 1_000),
  S5b: rolling('S5b', 300),
};

/**
 * A rolling replacement: 60 worker nodes terminated one every 10 s in a region of `targetGroups` groups, 10 of them
 * bound (instance targets) and holding the cluster's 10 ingress nodes, which stay; the workers hold no targets.
 * S5b is the same stream in a smaller region: its steady ELB calls per minute must equal S5's (checked by main.ts).
 */
function rolling(name: 'S5' | 'S5b', targetGroups: number): ScenarioSpec {
  return {
    ...DEFAULTS, name, title: `rolling replacement: 60 terminations, one every 10 s, ${targetGroups} target groups, 10 bound by TargetGroupBindings`,
    events: 60, stayingNodes: 10, podsPerNode: 2, spacingMs: 10_000,
    layout: { kind: 'bound', instanceGroups: 10, ipGroups: 0, unboundGroups: targetGroups - 10, boundNodes: 'staying' }, deregistrationDelaySeconds: 10,
    heartbeatTimeoutSeconds: 300, flags: [], actionPollMs: 1_000, timeoutMs: 30 * 60_000,
    budgets: (r) => [
      atMost('aws_calls_per_event (without heartbeats)', r.aws_calls_per_event, 6),
      atMost('discovery_ms.max (no event waits more than 2 s for discovery)', r.discovery_ms.max, 2_000),
      ...(r.elb_calls_per_minute_steady === null ? [atMost('elb_calls_per_minute_steady (measured)', null, 0)] : []),
    ],
  };
}

/** S5 against S5b: the steady ELB calls per minute may not depend on the number of unbound target groups. */
export function independenceCheck(s5: ScenarioReport, s5b: ScenarioReport): BudgetCheck {
  const a = s5.elb_calls_per_minute_steady;
  const b = s5b.elb_calls_per_minute_steady;
  const tolerance = b === null ? 0 : Math.max(2, 0.1 * b);
  return {
    figure: `elb_calls_per_minute_steady, ${s5.target_groups} vs ${s5b.target_groups} target groups (${s5.target_groups_bound} bound)`,
    value: a, limit: `${b ?? 'n/a'} ± ${tolerance.toFixed(1)}`, ok: a !== null && b !== null && Math.abs(a - b) <= tolerance,
  };
}

/** Every scenario also fails when a lifecycle action did not end with CONTINUE. */
export function resultsCheck(r: ScenarioReport): BudgetCheck {
  const good = r.results['CONTINUE'] ?? 0;
  return { figure: 'results (all CONTINUE)', value: good, limit: `= ${r.events}`, ok: good === r.events };
}
