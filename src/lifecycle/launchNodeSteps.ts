/**
 * The waits of a launch (--launch-hooks): the instance's Node registered and Ready, then (with
 * --launch-wait-daemonsets) the DaemonSet pods scheduled to it Ready. Each waits until the launch's bound
 * (--launch-timeout from the message's first receipt) and then looks once more, with a fresh read (the watch may
 * lag), before it gives up with a LaunchNotReadyError: the table's policy turns that into ABANDON. A launch into a
 * warm pool is not waited for: AWS stops the instance as soon as it has launched, so its Node cannot become Ready;
 * the launch hook pauses the instance again, in Pending:Wait, when it leaves the pool, and that launch is waited for.
 */
import { WARM_LAUNCHING_WAIT_STATE } from './action.js';
import type { ActionContext } from './actionContext.js';
import { LaunchNotReadyError } from './errors.js';
import type { NodeInfo, PodInfo } from './ports.js';
import { retryUntil } from './retryUntil.js';
import { linkedSignal, sleep } from './sleep.js';
import { DONE, type StepOutcome } from './step.js';
import type { LaunchSettings, StepDeps } from './stepDeps.js';

/** How often the DaemonSet pods on a new Node are listed while some are not Ready (one LIST, field-selected). */
const DAEMONSET_POLL_INTERVAL_MS = 2_000;

const isReady = (node: NodeInfo | undefined): boolean => node?.ready === 'True';

/** True for a launch into a warm pool, whose Node is not waited for. */
export function isWarmPoolLaunch(ctx: ActionContext): boolean {
  return ctx.lifecycleState === WARM_LAUNCHING_WAIT_STATE;
}

function settingsOf(deps: StepDeps): LaunchSettings {
  const launch = deps.config.launch;
  if (!launch) throw new Error('a launch step runs only with --launch-hooks');
  return launch;
}

/** When the Node (and its DaemonSet pods) must be Ready: --launch-timeout after the message's first receipt. */
function boundMs(ctx: ActionContext, launch: LaunchSettings): number {
  return ctx.receivedAtMs + launch.timeoutSeconds * 1000;
}

/** The instance's Node, registered and Ready: from the watch-backed index, then a fresh read at the bound. */
export async function awaitNodeReady(deps: StepDeps, ctx: ActionContext, signal: AbortSignal): Promise<StepOutcome> {
  const { action, log } = ctx;
  const id = action.instanceId;
  if (isWarmPoolLaunch(ctx)) {
    log.info(`instance ${id} is launching into the warm pool (${WARM_LAUNCHING_WAIT_STATE}): Auto Scaling stops it once it has launched, so its Node is not waited for now; it is when the instance leaves the pool (Pending:Wait)`);
    return { kind: 'skipped', why: 'a launch into the warm pool' };
  }
  const launch = settingsOf(deps);
  const leftSeconds = (): number => Math.max(0, Math.round((boundMs(ctx, launch) - Date.now()) / 1000));
  ctx.node ??= deps.nodes.findByInstanceId(id);
  if (!isReady(ctx.node)) {
    const { signal: window, dispose } = linkedSignal([signal], Math.max(0, boundMs(ctx, launch) - Date.now()));
    try {
      if (!ctx.node) {
        log.info(`instance ${id} has no Node yet; waiting up to ${leftSeconds()}s for it to register and become Ready`);
        ctx.node = await deps.nodes.waitForInstance(id, window);
      }
      if (!isReady(ctx.node)) {
        log.info(`node ${ctx.node.name} of instance ${id} is registered, not Ready (${ctx.node.ready}); waiting up to ${leftSeconds()}s for it to become Ready`);
        ctx.node = await deps.nodes.waitForInstance(id, window, isReady);
      }
    } catch (e) {
      // The bound passed (the window aborted, not the step's own signal): one fresh look before giving up.
      if (signal.aborted) throw e;
    } finally {
      dispose();
    }
  }
  if (!isReady(ctx.node)) {
    const fresh = await retryUntil(() => deps.nodes.readFresh(id, signal), signal, { operation: 'reading the Nodes from the apiserver', log });
    ctx.node = fresh ?? ctx.node;
    if (!fresh) throw new LaunchNotReadyError(`instance ${id} registered no Node within ${launch.timeoutSeconds}s (--launch-timeout; a fresh read from the apiserver confirms it has none)`, false);
    if (!isReady(fresh)) throw new LaunchNotReadyError(`node ${fresh.name} of instance ${id} is not Ready ${launch.timeoutSeconds}s after the launch (--launch-timeout): its Ready condition is ${fresh.ready}`, true);
  }
  log.info(`node ${ctx.node!.name} of instance ${id} is Ready after ${((Date.now() - ctx.receivedAtMs) / 1000).toFixed(1)}s`);
  return DONE;
}

/**
 * The DaemonSet pods scheduled to the new Node (CNI, CSI, log agents), all Ready. The pods bound to the Node are
 * listed every 2 s until none is missing its Ready condition, or the bound passes. A
 * DaemonSet whose pod has not been created or scheduled to the Node by then is not waited for.
 */
export async function awaitDaemonSets(deps: StepDeps, ctx: ActionContext, signal: AbortSignal): Promise<StepOutcome> {
  if (isWarmPoolLaunch(ctx)) return { kind: 'skipped', why: 'a launch into the warm pool' };
  const launch = settingsOf(deps);
  const { log } = ctx;
  const node = ctx.node;
  if (!node) throw new Error('await_daemonsets runs after await_node_ready');
  let waiting = false;
  for (;;) {
    const pods = await retryUntil(() => deps.cluster.listPodsOnNode(node.name, signal), signal, { operation: `list pods on node ${node.name}`, log });
    const daemons = pods.filter((p) => p.controller?.kind === 'DaemonSet' && !p.deletionTimestamp && !p.isMirror);
    const notReady = daemons.filter((p) => p.ready !== true);
    if (notReady.length === 0) {
      log.info(`the ${daemons.length} DaemonSet pods on node ${node.name} are Ready`);
      return DONE;
    }
    const leftMs = boundMs(ctx, launch) - Date.now();
    if (leftMs <= 0) {
      throw new LaunchNotReadyError(`${notReady.length} of the ${daemons.length} DaemonSet pods on node ${node.name} are not Ready ${launch.timeoutSeconds}s after the launch (--launch-timeout): ${describePods(notReady)}`, true);
    }
    if (!waiting) {
      waiting = true;
      // Polled until Ready from then on: from one watch of the node's pods (no LIST per poll) until the action ends.
      deps.cluster.watchPodsOnNode?.(node.name, ctx.ended);
      log.info(`waiting up to ${Math.round(leftMs / 1000)}s for ${notReady.length} of the ${daemons.length} DaemonSet pods on node ${node.name} to be Ready: ${describePods(notReady)}`);
    }
    await sleep(Math.min(launch.pollIntervalMs ?? DAEMONSET_POLL_INTERVAL_MS, leftMs), signal);
  }
}

function describePods(pods: readonly PodInfo[]): string {
  const shown = pods.slice(0, 5).map((p) => `${p.namespace}/${p.name} (${p.phase})`);
  return `${shown.join(', ')}${pods.length > shown.length ? ` and ${pods.length - shown.length} more` : ''}`;
}
