import { NodeEvents } from '../observability/nodeEvents.js';
import type { ActionContext } from './actionContext.js';
import { isWarmPoolLaunch } from './launchNodeSteps.js';
import { confirmOwnership, sendCompletion } from './completion.js';
import { DONE, type StepOutcome } from './step.js';
import type { StepDeps } from './stepDeps.js';

/** The `reason` label of lifecycle_manager_launches_total. */
export type LaunchReason = 'ready' | 'warm_pool' | 'no_node' | 'node_not_ready' | 'daemonsets_not_ready' | 'failed';

/** Why a launch ends as it does, from what its steps found. */
export function launchReason(ctx: ActionContext): LaunchReason {
  if (ctx.result === 'CONTINUE') return isWarmPoolLaunch(ctx) ? 'warm_pool' : 'ready';
  const failure = ctx.failures.find((f) => f.step === 'await_node_ready' || f.step === 'await_daemonsets');
  if (failure?.step === 'await_daemonsets') return 'daemonsets_not_ready';
  if (failure?.step === 'await_node_ready') return ctx.node ? 'node_not_ready' : 'no_node';
  return 'failed';
}

/**
 * CompleteLifecycleAction for a launch: CONTINUE once the Node is Ready (or for a launch into the warm pool),
 * ABANDON when a wait under `abandon` failed — Auto Scaling then terminates the instance, so that is said loudly:
 * an error log line, a LaunchAbandoned Warning Event on the Node when one registered, and
 * lifecycle_manager_launches_total{result="ABANDON"}. AWS answering "No active Lifecycle Action" counts as done.
 * Launches are not counted in upstream's event series (successful_events_total…), which count terminations.
 */
export async function completeLaunch(deps: StepDeps, ctx: ActionContext, signal: AbortSignal): Promise<StepOutcome> {
  const { action, log } = ctx;
  const { metrics } = deps;
  await confirmOwnership(deps, ctx, signal);
  const result = ctx.result;
  const reason = launchReason(ctx);
  const seconds = (): number => (Date.now() - ctx.receivedAtMs) / 1000;
  if (result === 'ABANDON') {
    const cause = ctx.abandonCause ?? 'a step failed';
    log.error(`launch of instance ${action.instanceId} (event ${action.requestId}) abandoned after ${seconds().toFixed(2)}s: ${cause}; Auto Scaling terminates the instance`);
    ctx.publish(NodeEvents.launchAbandoned(action.instanceId, seconds(), cause));
  }
  await sendCompletion(deps, ctx, signal);
  metrics.launches.inc({ result, reason });
  metrics.recordMessage('processed', result === 'CONTINUE' ? 'launch_continue' : 'launch_abandon');
  if (result === 'CONTINUE') {
    if (reason === 'ready' && ctx.node) {
      ctx.publish(NodeEvents.launchReady(action.instanceId, ctx.node.name, seconds(), deps.config.launch?.waitForDaemonSets ? ', and so are its DaemonSet pods,' : ''));
    }
    log.info(`launch event ${action.requestId} for instance ${action.instanceId} completed with CONTINUE after ${seconds().toFixed(2)}s (${reason === 'warm_pool' ? 'into the warm pool, not waited for' : `node ${ctx.node?.name ?? '?'} Ready`})`);
  }
  ctx.finish = { settle: 'delete', releaseRecord: true };
  return DONE;
}
