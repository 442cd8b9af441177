/**
 * The steps around the work on the node: verify (is this a real termination of ours?), claim (make the action
 * this replica's, or follow the replica that has it) and settle (delete or return the messages, release the Lease).
 */
import { LAUNCHING_WAIT_STATE, TERMINATING_WAIT_STATE } from './action.js';
import type { ActionContext, Finish } from './actionContext.js';
import type { ActionMessage } from './actionRegistry.js';
import { foreignMessageDelaySeconds } from './clusterScope.js';
import { describeError } from './errors.js';
import { retryUntil } from './retryUntil.js';
import { sleep, withTimeout } from './sleep.js';
import { DONE, STOP, type StepOutcome } from './step.js';
import type { StepDeps } from './stepDeps.js';
import { actionDeadlineMs, verifyAction } from './verification.js';

const SETTLE_TIMEOUT_MS = 15_000;

/** Scope (--cluster-name), then AWS: the hook, the instance's lifecycle state, the message's age. */
export async function verify(deps: StepDeps, ctx: ActionContext, signal: AbortSignal): Promise<StepOutcome> {
  const { action, log, origin } = ctx;
  const group = action.autoScalingGroupName;
  const scope = await retryUntil(() => deps.scope.scopeOf(group, signal), signal, { operation: 'autoscaling:DescribeTags', log });
  if (!scope.ours) {
    log.info(`Auto Scaling group ${group} is not tagged for cluster ${deps.scope.clusterName}; leaving the message for that cluster`);
    const nearDeadLetter = deps.sharedQueue.foreignMessage(origin.receiveCount, scope.clusters, log);
    deps.metrics.recordMessage('released', nearDeadLetter ? 'other_cluster_near_dead_letter' : 'other_cluster');
    ctx.finish = { settle: 'release', delaySeconds: foreignMessageDelaySeconds(origin.receiveCount) };
    return STOP;
  }
  const verdict = await retryUntil(
    () => verifyAction(action, deps.autoScaling, { checkInstanceState: deps.config.verifyLifecycleState, nowMs: Date.now(), sentAtMs: origin.sentAtMs }, signal),
    signal, { operation: 'verifying the lifecycle action with Auto Scaling', log });
  if (verdict.kind === 'drop') {
    log.warn(`event ${action.requestId} has been rejected for processing: ${verdict.detail}`);
    deps.metrics.recordMessage('deleted', verdict.reason);
    // A Lease found by the orphan scan for an action AWS has ended is cleaned up with it.
    ctx.finish = { settle: 'delete', releaseRecord: origin.record !== undefined };
    return STOP;
  }
  ctx.hook = verdict.hook;
  ctx.deadlineMs ??= actionDeadlineMs(action, verdict.hook, ctx.receivedAtMs, deps.config.maxTimeToProcessSeconds);
  ctx.lifecycleState = verdict.lifecycleState;
  if (verdict.lifecycleState && verdict.lifecycleState !== (action.launch ? LAUNCHING_WAIT_STATE : TERMINATING_WAIT_STATE)) log.info(`instance ${action.instanceId} is in ${verdict.lifecycleState}`);
  // From the cache only (no API call): a verified action's later failures can be told on its Node.
  ctx.node = deps.nodes.findByInstanceId(action.instanceId);
  // A real action of ours: the hook hears from us from now on, however long the claim takes. --dry-run never does.
  if (!deps.config.dryRun) deps.startHeartbeats(ctx);
  return DONE;
}

/**
 * Claims the action's Lease (creating it, or taking it over from a replica that stopped renewing it, keeping its
 * first receipt and deadline). When another live replica holds it, this copy of the message is kept (its
 * visibility extended) while that replica works, instead of bouncing back to the queue every few seconds and
 * counting toward the dead-letter queue's maxReceiveCount: it is deleted once the Lease is gone (the owner
 * finished), and the action is taken over here if the owner stops renewing.
 */
export async function claim(deps: StepDeps, ctx: ActionContext, signal: AbortSignal): Promise<StepOutcome> {
  const { action, log, hook } = ctx;
  if (!hook || ctx.deadlineMs === undefined) throw new Error('claim runs after verify');
  const store = deps.store;
  if (!store) {
    log.info(receivedLine(ctx));
    deps.keepAlive(ctx);
    return DONE;
  }
  const wanted = { action, phase: 'verified' as const, receivedAtMs: ctx.receivedAtMs, deadlineMs: ctx.deadlineMs, heartbeatTimeoutSeconds: hook.heartbeatTimeoutSeconds };
  const pollMs = (store.leaseDurationFor(hook.heartbeatTimeoutSeconds) * 1000) / 2;
  for (let following = false; ;) {
    const result = await retryUntil(() => store.claim(wanted, signal), signal, { operation: `claim the Lease of ${action.instanceId}`, log });
    if (result.status === 'claimed') {
      ctx.receivedAtMs = result.record.receivedAtMs;
      ctx.deadlineMs = result.record.deadlineMs;
      ctx.resumedFrom = result.resumedFrom;
      if (result.resumedFrom) log.info(`resuming event ${action.requestId} from phase ${result.resumedFrom}${result.previousHolder ? ` (previously held by ${result.previousHolder})` : ''}`);
      else log.info(receivedLine(ctx));
      deps.keepAlive(ctx);
      return DONE;
    }
    if (!following) {
      following = true;
      log.info(`event ${action.requestId} is being processed by ${result.holder}; keeping this copy of the message until that replica finishes`);
      deps.metrics.recordMessage('duplicate', 'owned_by_other_replica');
    }
    for (;;) {
      await sleep(pollMs, signal);
      const state = await retryUntil(() => store.inspect(action, signal), signal, { operation: `read the Lease of ${action.instanceId}`, log });
      if (state === 'absent') {
        log.info(`event ${action.requestId} was finished by another replica; deleting this copy of its message`);
        ctx.finish = { settle: 'delete', releaseRecord: false };
        return STOP;
      }
      if (state.claimable) break;
    }
  }
}

function receivedLine(ctx: ActionContext): string {
  return ctx.action.launch ? 'received launch event' : 'received termination event';
}

/** Ends the action: releases or hands over its Lease and settles every message that carried it. Never throws. */
export async function settle(deps: StepDeps, ctx: ActionContext): Promise<StepOutcome> {
  const { action, log } = ctx;
  const finish: Finish = ctx.finish ?? { settle: 'release', delaySeconds: deps.config.retryLaterSeconds };
  // No renewal may race the Lease's deletion or hand-over.
  await ctx.stopKeepAlive();
  const store = deps.store;
  if (store && finish.settle === 'delete' && finish.releaseRecord) {
    // A Lease that cannot be deleted must not send a completed action back to the queue: the orphan scan will
    // find it, verification will see the instance gone, and it is deleted then.
    await withTimeout([], SETTLE_TIMEOUT_MS, (s) => store.release(action, s))
      .catch((e: unknown) => log.warn(`could not delete the action's Lease (${describeError(e)}); the orphan scan will clean it up`, { error: e }));
  } else if (store && finish.settle === 'hand-over') {
    await withTimeout([], SETTLE_TIMEOUT_MS, (s) => store.handOver(action, s))
      .catch((e: unknown) => log.warn(`could not hand the action's Lease over (${describeError(e)}); another replica takes it when it expires`, { error: e }));
  }
  let failed: unknown;
  await deps.registry.finish(action, (messages) => settleMessages(messages, finish)).catch((e: unknown) => { failed = e; });
  if (failed !== undefined) throw failed;
  return DONE;
}

async function settleMessages(messages: readonly ActionMessage[], finish: Finish): Promise<void> {
  const results = await Promise.allSettled(messages.map((m) => withTimeout([], SETTLE_TIMEOUT_MS, (signal) =>
    (finish.settle === 'delete' ? m.delete(signal) : m.release(finish.settle === 'release' ? finish.delaySeconds : 0, signal)))));
  const failures = results.flatMap((r) => (r.status === 'rejected' ? [describeError(r.reason)] : []));
  if (failures.length > 0) throw new Error(`could not ${finish.settle === 'delete' ? 'delete' : 'return'} ${failures.length} of ${messages.length} messages: ${failures[0]}`);
}
