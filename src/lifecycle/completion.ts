import { NodeEvents } from '../observability/nodeEvents.js';
import type { ActionContext } from './actionContext.js';
import { OwnershipLostError, describeError } from './errors.js';
import { retryUntil } from './retryUntil.js';
import { DONE, type StepOutcome } from './step.js';
import type { StepDeps } from './stepDeps.js';

/**
 * Makes sure no other replica took the action over before completing it (a launch's or a termination's). While this
 * replica's liveness was renewed recently enough, and has not lapsed since the record was last seen as this replica's,
 * no other replica can have: nothing to ask. Otherwise (renewals failing, or an outage just ended) the action's record
 * is written with the version last read, which fails if another replica took it.
 * A failure to ask is no reason to stop: at worst two replicas complete it and AWS rejects the second.
 */
export async function confirmOwnership(deps: StepDeps, ctx: ActionContext, signal: AbortSignal): Promise<void> {
  const store = deps.store;
  if (!store || store.vouchedFor(ctx.action)) return;
  const ownership = await store.renew(ctx.action, 'completing', signal).catch((e: unknown) => {
    if (signal.aborted) throw e;
    ctx.log.warn(`could not confirm ownership before completing (${describeError(e)}); completing anyway`, { error: e });
    return 'renewed' as const;
  });
  if (ownership === 'lost') {
    const lost = new OwnershipLostError(ctx.action.instanceId);
    ctx.stopNow(lost);
    throw lost;
  }
}

/**
 * CompleteLifecycleAction with the action's result: CONTINUE unless a step under `abandon` failed. Degraded steps
 * (a load balancer, the Node's deletion) do not change the result — the pods were evicted, which is what the hook
 * waited for — but they are named in the LifecycleHookProcessed Event. AWS answering "No active Lifecycle Action"
 * counts as done (completed elsewhere, or expired).
 */
export async function complete(deps: StepDeps, ctx: ActionContext, signal: AbortSignal): Promise<StepOutcome> {
  const { action, log } = ctx;
  const { metrics } = deps;
  await confirmOwnership(deps, ctx, signal);
  const result = ctx.result;
  const seconds = (): number => (Date.now() - ctx.receivedAtMs) / 1000;
  if (result === 'ABANDON') {
    const cause = ctx.abandonCause ?? 'a step failed';
    log.error(`event ${action.requestId} has failed processing after ${seconds().toFixed(2)}s: ${cause}`);
    ctx.publish(NodeEvents.lifecycleHookFailed(action.requestId, seconds(), cause));
    log.warn(`abandoning instance ${action.instanceId}`);
  }
  const status = await sendCompletion(deps, ctx, signal);
  metrics.lifecycleActionsCompleted.inc({ result, status });
  metrics.recordEventFinished(result, seconds());
  metrics.recordMessage('processed', result === 'CONTINUE' ? 'continue' : 'abandon');
  if (result === 'CONTINUE') {
    const degraded = ctx.failures.map((f) => f.step);
    ctx.publish(NodeEvents.lifecycleHookProcessed(action.requestId, action.instanceId, seconds(), degraded));
    log.info(`event ${action.requestId} for instance ${action.instanceId} completed after ${seconds().toFixed(2)}s${degraded.length > 0 ? ` (degraded: ${degraded.join(', ')})` : ''}`);
  }
  ctx.finish = { settle: 'delete', releaseRecord: true };
  return DONE;
}

/**
 * CompleteLifecycleAction with the action's result (a termination's or a launch's), retried within the step's
 * share, then the end of its heartbeats: none may follow the completion. AWS answering "No active Lifecycle Action"
 * ('gone') counts as done. Records how much of the deadline was left.
 */
export async function sendCompletion(deps: StepDeps, ctx: ActionContext, signal: AbortSignal): Promise<'completed' | 'gone'> {
  const { action, log } = ctx;
  log.info(`setting lifecycle event as completed with result: ${ctx.result}`);
  const status = await retryUntil(() => deps.autoScaling.completeAction(action, ctx.result, signal), signal,
    { operation: 'autoscaling:CompleteLifecycleAction', log });
  await ctx.stopKeepAlive();
  if (status === 'gone') log.warn(`AWS had no active lifecycle action for ${action.instanceId} any more; treating it as done`);
  if (ctx.deadlineMs !== undefined) deps.metrics.deadlineMarginSeconds.observe(Math.max(0, (ctx.deadlineMs - Date.now()) / 1000));
  return status;
}
