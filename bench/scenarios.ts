import { type BudgetCheck, atMost, below } from './figures.js';

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
  readonly heartbeat_lateness_max_s: number | null;
  readonly rss_peak_mib: number;
  readonly cpu_s: number;
  /** Not in the list: the S3 figure its budget needs (null where a scenario does not measure it). */
  readonly deregistration_overshoot_s: number | null;
  /** Not in the list: how the lifecycle actions ended, so a run that ABANDONed cannot pass for a good one. */
  readonly results: Record<string, number>;
}

/** Figures that have budgets but no field of their own in the report. */
export interface SideFigures {
  /** LISTs of every node in the window that were not an informer (re)list, i.e. beyond its watch (re)connections. */
  readonly allNodesListsPerEvent: number;
  /** LISTs of pods without a `spec.nodeName` field selector in the window. */
  readonly allPodsListsPerEvent: number;
}

export const SCENARIO_NAMES = ['S1', 'S2', 'S3'] as const;
export type ScenarioName = (typeof SCENARIO_NAMES)[number];

export interface ScenarioSpec {
  readonly name: ScenarioName;
  readonly title: string;
  readonly events: number;
  readonly podsPerNode: number;
  /** Target groups in the region; instance k is registered in groups (2k + j) mod targetGroups for j < groupsPerInstance. */
  readonly targetGroups: number;
  readonly groupsPerInstance: number;
  readonly deregistrationDelaySeconds: number;
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

export const SCENARIOS: Readonly<Record<ScenarioName, ScenarioSpec>> = {
  S1: {
    name: 'S1', title: 'burst: 100 simultaneous terminations, 10 pods each, 200 target groups, 2 holding each instance',
    events: 100, podsPerNode: 10, targetGroups: 200, groupsPerInstance: 2, deregistrationDelaySeconds: 10,
    heartbeatTimeoutSeconds: 300, flags: ['--max-drain-concurrency', '32'], graceScale: 0.05, actionPollMs: 1_000,
    measureOvershoot: false, timeoutMs: 20 * 60_000,
    budgets: (r, side) => [
      atMost('aws_calls_per_event (without heartbeats)', r.aws_calls_per_event, 12),
      atMost('all-nodes LISTs per event (beyond the informer\'s)', side.allNodesListsPerEvent, 0),
      atMost('all-pods LISTs per event (no spec.nodeName selector)', side.allPodsListsPerEvent, 0),
      below('receipt_to_cordon_ms.p99', r.receipt_to_cordon_ms.p99, 2_000),
    ],
  },
  S2: {
    name: 'S2', title: 'spike: 500 simultaneous terminations, 5 pods each',
    events: 500, podsPerNode: 5, targetGroups: 0, groupsPerInstance: 0, deregistrationDelaySeconds: 0,
    heartbeatTimeoutSeconds: 30, flags: [], graceScale: 0.05, actionPollMs: 2_000,
    measureOvershoot: false, timeoutMs: 30 * 60_000,
    budgets: (r) => [
      below('rss_peak_mib', r.rss_peak_mib, 200),
      atMost('heartbeat_lateness_max_s', r.heartbeat_lateness_max_s, 5),
    ],
  },
  S3: {
    name: 'S3', title: 'drain delay: one termination, target group deregistration_delay 30 s',
    events: 1, podsPerNode: 2, targetGroups: 1, groupsPerInstance: 1, deregistrationDelaySeconds: 30,
    heartbeatTimeoutSeconds: 300, flags: [], graceScale: 0.05, actionPollMs: 500,
    measureOvershoot: true, timeoutMs: 6 * 60_000,
    budgets: (r) => [below('deregistration_overshoot_s', r.deregistration_overshoot_s, 5)],
  },
};

/** Every scenario also fails when a lifecycle action did not end with CONTINUE. */
export function resultsCheck(r: ScenarioReport): BudgetCheck {
  const good = r.results['CONTINUE'] ?? 0;
  return { figure: 'results (all CONTINUE)', value: good, limit: `= ${r.events}`, ok: good === r.events };
}
