/**
 * Webhook notices about actions: which step's end is which event, and at most one notice per action and event,
 * across restarts and replicas. The notice is recorded in the action's durable state (its Lease, through the
 * NoticeLedger) before it is handed to the notifier, which posts it in the background: nothing here waits for a
 * webhook, so no notice can delay the drain or the completion.
 *
 * --dry-run: the one notice is `received`, once the plan is published, marked as a dry run and carrying the plan;
 * nothing else happens, so nothing else is told. A dry run writes no Lease, so that notice is not recorded: the
 * message is deleted right after the plan, and only SQS delivering that message twice could send it twice.
 *
 * Guarantee: at most once per (action, event). A replica that dies after recording a notice and before its
 * delivery succeeded loses that notice (the replica that takes over sees it recorded and does not send it); a
 * notice whose record cannot be written is not sent either. Never twice, possibly not at all.
 */
import type { Metrics } from '../observability/metrics.js';
import type { ActionContext } from './actionContext.js';
import { describeError } from './errors.js';
import type { ActionNotice, NoticeLedger, Notifier } from './ports.js';
import { untilAborted, withTimeout } from './sleep.js';
import type { StepName } from './step.js';
import type { StepEnding } from './stepRunner.js';

/** Writing the record is one Lease update (retried on conflicts): bounded on its own. */
const RECORD_TIMEOUT_MS = 15_000;

/**
 * The notice a step's end makes, if any:
 * - `received`: the action was verified and claimed (this replica works on it from now on);
 * - `drained`: the drain step succeeded (not when the instance had no Node, nor when the drain failed);
 * - `completed`: CompleteLifecycleAction CONTINUE was done (or AWS no longer had the action);
 * - `failed`: the action was completed ABANDON, or its completion failed (the hook then ends with its
 *   DefaultResult). A failure before the claim returns the message to the queue and is no notice; an action
 *   stopped from outside (shutdown, taken over, gone from AWS) makes none either.
 */
export function noticeOf(step: StepName, ending: StepEnding, ctx: ActionContext, nowMs: number): ActionNotice | undefined {
  const base = {
    action: ctx.action, nodeName: ctx.node?.name, degradedSteps: ctx.failures.map((f) => f.step),
    elapsedSeconds: Math.max(0, Math.round((nowMs - ctx.receivedAtMs) / 1000)), atMs: nowMs, result: undefined, cause: undefined,
    dryRunPlan: undefined,
  };
  if (step === 'dry_run') return ending === 'done' && ctx.dryRunPlan ? { ...base, event: 'received', dryRunPlan: ctx.dryRunPlan } : undefined;
  if (step === 'claim' && ending === 'done') return { ...base, event: 'received' };
  if (step === 'drain' && ending === 'done') return { ...base, event: 'drained' };
  if (step !== 'complete') return undefined;
  if (ending === 'done') {
    return ctx.result === 'CONTINUE'
      ? { ...base, event: 'completed', result: 'CONTINUE' }
      : { ...base, event: 'failed', result: 'ABANDON', cause: ctx.abandonCause ?? 'a step failed' };
  }
  if (ending !== 'failed') return undefined;
  const why = ctx.failures.at(-1)?.cause ?? 'unknown error';
  const cause = `the lifecycle action could not be completed (${why}); the hook ends with its DefaultResult`;
  return { ...base, event: 'failed', cause: ctx.abandonCause ? `${ctx.abandonCause}; ${cause}` : cause };
}

export class ActionNotices {
  /** Records being written: a notice is handed to the notifier once its record is. */
  private readonly recording = new Set<Promise<void>>();

  constructor(
    private readonly notifier: Notifier,
    /** undefined: no durable state (unit tests); every notice is sent. */
    private readonly ledger: NoticeLedger | undefined,
    private readonly metrics: Metrics,
  ) {}

  /** For the step runner: returns at once. */
  readonly stepEnded = (step: StepName, ctx: ActionContext, ending: StepEnding): void => {
    const notice = noticeOf(step, ending, ctx, Date.now());
    if (notice && this.notifier.wants(notice.event)) this.announce(ctx, notice);
  };

  /** Waits, within `signal`, for the records being written and then for the notifier's deliveries. */
  async flush(signal: AbortSignal): Promise<void> {
    await untilAborted(Promise.allSettled([...this.recording]), signal).catch(() => undefined);
    await this.notifier.flush(signal);
  }

  private announce(ctx: ActionContext, notice: ActionNotice): void {
    const { event } = notice;
    const { log } = ctx;
    // A dry run has no Lease to record it in (see the top of this file).
    const ledger = notice.dryRunPlan === undefined ? this.ledger : undefined;
    // Called now, not later: the store orders this write before the Lease's release or hand-over that follows.
    const recorded = ledger ? withTimeout([], RECORD_TIMEOUT_MS, (signal) => ledger.recordNotice(ctx.action, event, signal)) : Promise.resolve('recorded' as const);
    const done = recorded.then((result) => {
      if (result === 'recorded') {
        this.notifier.send(notice);
        return;
      }
      this.metrics.webhookDeliveries.inc({ event, outcome: 'suppressed' });
      log.info(result === 'already-recorded'
        ? `webhook ${event}: already sent for this action (before a restart, or by another replica); not sending it again`
        : `webhook ${event}: this replica no longer holds the action; not sending it`);
    }, (e: unknown) => {
      this.metrics.webhookDeliveries.inc({ event, outcome: 'not_recorded' });
      log.warn(`webhook ${event} not sent: could not record it in the action's Lease (${describeError(e)}); not sending it rather than risking a duplicate`);
    });
    this.recording.add(done);
    void done.finally(() => this.recording.delete(done));
  }
}
