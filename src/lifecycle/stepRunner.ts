import type { Metrics } from '../observability/metrics.js';
import { NodeEvents } from '../observability/nodeEvents.js';
import type { ActionContext } from './actionContext.js';
import { describeError, isActionGone, isOwnershipLost } from './errors.js';
import { linkedSignal } from './sleep.js';
import { type FailureClass, POLICY_CONSEQUENCE, type Step, type StepName, type StepOutcome, failureClass } from './step.js';

/** How a step ended, for observers (the webhook notices): its outcome, or `failed` after its policy was applied. */
export type StepEnding = StepOutcome['kind'] | 'failed';

export interface StepRunnerOptions {
  readonly metrics: Metrics;
  /** Visibility delay for a message whose step failed under `release-message`. */
  readonly retryLaterSeconds: number;
  /** Visibility delay for the messages of an action another replica took over. */
  readonly lostReleaseDelaySeconds: number;
  /** Told how each step ended (not when the action was stopped from outside); must return at once and not throw. */
  readonly onStepEnded?: (step: StepName, ctx: ActionContext, ending: StepEnding) => void;
}

/**
 * Runs a table of steps top-down for one action. Before each step it records the step's phase and gives it a
 * signal that aborts when the step's share of the deadline ends; after a failure it applies the policy the step
 * declares. A resumed action skips the `skip-when-past` steps before its recorded phase; once the action is
 * finished (completed, dropped, stopped) only the last step — settling its messages — runs. The last step always
 * runs, whatever happened before it.
 */
export async function runSteps(steps: readonly Step<ActionContext>[], ctx: ActionContext, options: StepRunnerOptions): Promise<void> {
  const last = steps.at(-1);
  try {
    for (const step of steps) {
      if (step === last) break;
      if (!shouldRun(step, ctx)) continue;
      await runStep(step, ctx, options, false);
    }
  } finally {
    if (last) await runStep(last, ctx, options, true);
  }
}

function shouldRun(step: Step<ActionContext>, ctx: ActionContext): boolean {
  if (ctx.finish) return false;
  if (ctx.result === 'ABANDON' && step.whenAbandoning === 'skip') return false;
  if (step.onResume === 'skip-when-past' && step.phase && ctx.resumedPast(step.phase)) return false;
  return true;
}

async function runStep(step: Step<ActionContext>, ctx: ActionContext, options: StepRunnerOptions, final: boolean): Promise<void> {
  if (step.phase) ctx.phase = step.phase;
  const endsAtMs = step.shareEndsAtMs({ nowMs: Date.now(), deadlineMs: ctx.deadlineMs });
  const share = linkedSignal([ctx.signal], endsAtMs === undefined ? undefined : endsAtMs - Date.now());
  const timer = options.metrics.phaseDuration.startTimer({ phase: step.name });
  let ending: StepEnding;
  try {
    const outcome = await step.run(ctx, share.signal, endsAtMs);
    ending = outcome.kind;
    if (outcome.kind === 'degraded') recordFailure(step, ctx, outcome.failureClass, outcome.cause, options, { name: 'StepDegraded', message: outcome.cause });
    else if (outcome.kind === 'skipped') ctx.log.debug(`step ${step.name} skipped: ${outcome.why}`);
  } catch (e) {
    if (ctx.signal.aborted && !final) {
      stopped(ctx, options);
      return;
    }
    recordFailure(step, ctx, failureClass(e, share.signal.aborted), share.signal.aborted ? `no time left in its share of the deadline (${describeError(e)})` : describeError(e), options, e);
    ending = 'failed';
  } finally {
    share.dispose();
    timer();
  }
  options.onStepEnded?.(step.name, ctx, ending);
}

/** Records a step's failure (log, metric, Event on the Node) and applies the step's policy. */
function recordFailure(step: Step<ActionContext>, ctx: ActionContext, failure: FailureClass, cause: string, options: StepRunnerOptions, error: unknown): void {
  const policy = step.onFailure;
  ctx.failures.push({ step: step.name, failureClass: failure, cause });
  options.metrics.stepFailures.inc({ step: step.name, class: failure, policy });
  const consequence = step.name === 'drain' || ctx.isAfterDrain(step.phase) || ctx.result === 'ABANDON' || policy !== 'degrade-and-continue'
    ? POLICY_CONSEQUENCE[policy]
    : `${POLICY_CONSEQUENCE[policy]}; the node is still drained before the instance is released`;
  ctx.publish(NodeEvents.lifecycleStepFailed(step.name, failure, cause, consequence));
  const line = `step ${step.name} failed (${failure}): ${cause}; ${consequence}`;
  const fields = { step: step.name, failureClass: failure, policy, error };
  switch (policy) {
    case 'release-message':
      if (failure === 'transient' || failure === 'timeout') ctx.log.warn(line, fields);
      else ctx.log.error(line, fields);
      options.metrics.recordMessage('left_for_redelivery', `${step.name}_${failure}`);
      ctx.finish = { settle: 'release', delaySeconds: options.retryLaterSeconds };
      return;
    case 'degrade-and-continue':
      ctx.log.warn(line, fields);
      return;
    case 'abandon':
      ctx.log.error(line, fields);
      ctx.result = 'ABANDON';
      ctx.abandonCause ??= `${step.name}: ${cause}`;
      return;
    case 'leave-to-aws':
      ctx.log.error(line, fields);
      options.metrics.recordEventFinished('failed', (Date.now() - ctx.receivedAtMs) / 1000);
      options.metrics.recordMessage('processed', 'completion_failed');
      ctx.finish = { settle: 'delete', releaseRecord: true };
      return;
    case 'log-and-continue':
      ctx.log.warn(line, fields);
  }
}

/** The action was stopped from outside its steps: shutdown, AWS no longer having it, or another replica taking it over. */
function stopped(ctx: ActionContext, options: StepRunnerOptions): void {
  const { action, log } = ctx;
  const reason = ctx.stopReason;
  if (isActionGone(reason)) {
    log.warn(`event ${action.requestId}: AWS no longer has an active lifecycle action for ${action.instanceId} (completed elsewhere or expired); stopping`);
    options.metrics.recordEventFinished('dropped', (Date.now() - ctx.receivedAtMs) / 1000);
    options.metrics.recordMessage('processed', 'action_gone');
    ctx.finish = { settle: 'delete', releaseRecord: true };
  } else if (isOwnershipLost(reason)) {
    log.warn('another replica has taken this action over; stopping here without completing it');
    ctx.finish = { settle: 'release', delaySeconds: options.lostReleaseDelaySeconds };
  } else {
    log.warn(`shutting down: event ${action.requestId} stopped${ctx.phase ? ` in phase ${ctx.phase}` : ''} before completion; its message is returned to the queue`);
    ctx.finish = ctx.phase ? { settle: 'hand-over' } : { settle: 'release', delaySeconds: 0 };
  }
}
