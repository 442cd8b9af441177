import { LaunchNotReadyError, isAbort, isAccessDenied, isTransient } from './errors.js';
import type { ActionPhase } from './ports.js';

/** The steps of a termination (and of a launch), in the vocabulary the README, the Events and the metrics use. */
export type StepName = 'verify' | 'claim' | 'await_node' | 'cordon' | 'plan_drain' | 'deregister' | 'drain' | 'await_volumes' | 'delete_node' | 'untaint' | 'complete' | 'settle' | 'dry_run'
  | 'await_node_ready' | 'await_daemonsets';

/** What kind of failure ended a step (after the step's own retries). */
export type FailureClass = 'transient' | 'permanent' | 'timeout' | 'forbidden';
export const FAILURE_CLASSES: readonly FailureClass[] = ['transient', 'permanent', 'timeout', 'forbidden'];

/**
 * What the workflow does when a step fails. Declared with each step, never decided by a catch-all:
 * - `release-message`: nothing has been changed yet; the message goes back to the queue for a later try.
 * - `degrade-and-continue`: recorded (Event, metric, log) and the next step runs — the drain is never skipped.
 * - `abandon`: recorded; the action completes with ABANDON and the Node is kept (its pods were not all evicted).
 * - `leave-to-aws`: recorded; nothing else can complete the action, so the hook ends with its DefaultResult.
 * - `log-and-continue`: bookkeeping after completion; logged, and whatever is left behind is cleaned up later.
 */
export type FailurePolicy = 'release-message' | 'degrade-and-continue' | 'abandon' | 'leave-to-aws' | 'log-and-continue';

/** The consequence of each policy, as Events and logs state it. */
export const POLICY_CONSEQUENCE: Readonly<Record<FailurePolicy, string>> = {
  'release-message': 'nothing was changed; the message is returned to the queue and retried',
  'degrade-and-continue': 'continuing with the next step',
  'abandon': 'the action will complete with ABANDON and the Node is kept',
  'leave-to-aws': 'the hook will end with its DefaultResult when its HeartbeatTimeout passes',
  'log-and-continue': 'what was left behind is cleaned up later',
};

/** How a step ended when it did not throw. */
export type StepOutcome =
  | { readonly kind: 'done' }
  | { readonly kind: 'skipped'; readonly why: string }
  /** Part of the step's work failed; it is recorded like a failure under `degrade-and-continue`. */
  | { readonly kind: 'degraded'; readonly cause: string; readonly failureClass: FailureClass }
  /** The action ends here (dropped, owned elsewhere, finished by another replica): only `settle` runs next. */
  | { readonly kind: 'stop' };

export const DONE: StepOutcome = { kind: 'done' };
export const STOP: StepOutcome = { kind: 'stop' };

/** What a step's share of the deadline is computed from. */
export interface BudgetView {
  readonly nowMs: number;
  /** When the action must be completed (AWS's global timeout, capped by --max-time-to-process); undefined before verify. */
  readonly deadlineMs: number | undefined;
}

/**
 * A step's share of the deadline: `now + seconds`, but never past `deadline − reserveSeconds`, and never less than
 * `floorSeconds` from now (so a step whose work is quick still gets to try when the deadline is close).
 */
export function shareEndsAt(view: BudgetView, seconds: number | undefined, reserveSeconds: number, floorSeconds = 0): number | undefined {
  const own = seconds === undefined ? undefined : view.nowMs + seconds * 1000;
  const latest = view.deadlineMs === undefined ? undefined : view.deadlineMs - reserveSeconds * 1000;
  const ends = own === undefined ? latest : latest === undefined ? own : Math.min(own, latest);
  return ends === undefined ? undefined : Math.max(ends, view.nowMs + floorSeconds * 1000);
}

/**
 * One step of a termination. The workflow runs the table of steps top-down; each step declares where it stands
 * (its phase, recorded before it runs, so a resumed action starts there), what a failure does, and how much of
 * the remaining deadline it may use (its signal aborts when that is spent).
 */
export interface Step<C> {
  readonly name: StepName;
  /** Recorded in the action's Lease when the step starts; undefined for steps before the action is claimed. */
  readonly phase: ActionPhase | undefined;
  readonly onFailure: FailurePolicy;
  /** Epoch ms when the step's share ends; undefined: no limit of its own. */
  shareEndsAtMs(view: BudgetView): number | undefined;
  /** The share in words, for the README. */
  readonly share: string;
  /**
   * On resume from a later phase: `rerun` steps run again (they are cheap and idempotent, or later steps need what
   * they find), `skip-when-past` steps are skipped (their work is done and every later step re-checks it anyway).
   */
  readonly onResume: 'rerun' | 'skip-when-past';
  /** `skip`: not run once the action is being abandoned (deleting the Node of a drain that failed would kill its pods). */
  readonly whenAbandoning: 'run' | 'skip';
  /** One line for the README and `--help`: why this policy. */
  readonly why: string;
  /** What a failure leads to, in the Event and the log, when the policy's general wording does not fit (a launch). */
  readonly consequence?: string;
  /** `signal` aborts when the step's share ends (at `shareEndsAtMs`) or the action stops (shutdown, gone, taken over). */
  run(context: C, signal: AbortSignal, shareEndsAtMs: number | undefined): Promise<StepOutcome>;
}

/** Classifies a step's failure; `shareExpired` when the step's own share of the deadline ran out. */
export function failureClass(e: unknown, shareExpired: boolean): FailureClass {
  if (shareExpired || e instanceof LaunchNotReadyError || (isAbort(e) && (e as Error).name === 'TimeoutError')) return 'timeout';
  if (isAccessDenied(e)) return 'forbidden';
  if (isTransient(e)) return 'transient';
  return 'permanent';
}
