/**
 * A launch (--launch-hooks), as an ordered table of steps run by the same runner as a termination: verify that AWS
 * holds the instance for this launch hook, claim the action (heartbeats and Lease renewals start there), wait for the
 * instance's Node to register and become Ready — and, with --launch-wait-daemonsets, for the DaemonSet pods scheduled
 * to it — then complete CONTINUE; a wait that does not get there within --launch-timeout abandons the launch, and
 * Auto Scaling terminates the instance. Nothing in the cluster is changed by a launch.
 */
import { NodeEvents } from '../observability/nodeEvents.js';
import type { ActionContext } from './actionContext.js';
import { completeLaunch } from './launchCompletion.js';
import { awaitDaemonSets, awaitNodeReady, isWarmPoolLaunch } from './launchNodeSteps.js';
import { claim, settle, verify } from './ownershipSteps.js';
import { DONE, type Step, type StepOutcome, shareEndsAt as until } from './step.js';
import type { LaunchSettings, StepDeps } from './stepDeps.js';
import { COMPLETION_GRACE_SECONDS, COMPLETION_RESERVE_SECONDS } from './timeBudget.js';

const VERIFY_SHARE_SECONDS = 60;
const ABANDONED = 'the launch will complete with ABANDON: Auto Scaling terminates the instance (and launches another)';

/** The launch steps for this configuration (await_daemonsets only with --launch-wait-daemonsets). */
export function launchSteps(deps: StepDeps, launch: LaunchSettings): readonly Step<ActionContext>[] {
  const verifyStep: Step<ActionContext> = {
    name: 'verify', phase: undefined, onFailure: 'release-message', onResume: 'rerun', whenAbandoning: 'run',
    why: 'until AWS confirms the instance is waiting for this launch hook in that group (Pending:Wait, or Warmed:Pending:Wait for a launch into a warm pool), nothing is done; the message is tried again later',
    share: `${VERIFY_SHARE_SECONDS}s`,
    shareEndsAtMs: (v) => until(v, VERIFY_SHARE_SECONDS, 0),
    run: (ctx, signal) => verify(deps, ctx, signal),
  };
  const claimStep: Step<ActionContext> = {
    name: 'claim', phase: 'verified', onFailure: 'release-message', onResume: 'rerun', whenAbandoning: 'run',
    why: 'without its Lease the action could be worked on twice; nothing has been done yet, so the message is tried again later',
    share: 'until the deadline (while following another replica that holds the action)',
    shareEndsAtMs: (v) => until(v, undefined, 0),
    run: (ctx, signal) => claim(deps, ctx, signal),
  };
  const awaitNodeReadyStep: Step<ActionContext> = {
    name: 'await_node_ready', phase: 'awaiting-node-ready', onFailure: 'abandon', onResume: 'rerun', whenAbandoning: 'run',
    why: 'an instance whose Node does not register and become Ready within --launch-timeout cannot take pods: the launch is abandoned, loudly (a launch into a warm pool is not waited for: AWS stops the instance, and it is waited for when it leaves the pool)',
    share: '--launch-timeout from the message\'s first receipt, then a fresh read; never what completing needs',
    consequence: ABANDONED,
    shareEndsAtMs: (v) => until(v, undefined, COMPLETION_RESERVE_SECONDS),
    run: (ctx, signal) => awaitNodeReady(deps, ctx, signal),
  };
  const awaitDaemonSetsStep: Step<ActionContext> = {
    name: 'await_daemonsets', phase: 'awaiting-daemonsets', onFailure: 'abandon', onResume: 'rerun', whenAbandoning: 'skip',
    why: 'with --launch-wait-daemonsets: DaemonSet pods on the new Node (CNI, CSI, log agents) still not Ready within --launch-timeout mean a Node that cannot serve its pods: the launch is abandoned, loudly',
    share: 'what is left of --launch-timeout; never what completing needs',
    consequence: ABANDONED,
    shareEndsAtMs: (v) => until(v, undefined, COMPLETION_RESERVE_SECONDS),
    run: (ctx, signal) => awaitDaemonSets(deps, ctx, signal),
  };
  const completeStep: Step<ActionContext> = {
    name: 'complete', phase: 'completing', onFailure: 'leave-to-aws', onResume: 'rerun', whenAbandoning: 'run',
    why: 'AWS refusing the completion cannot be helped from here; the hook ends with its DefaultResult',
    share: `until the deadline, and ${COMPLETION_GRACE_SECONDS}s past it`,
    shareEndsAtMs: (v) => until(v, undefined, -COMPLETION_GRACE_SECONDS),
    run: (ctx, signal) => completeLaunch(deps, ctx, signal),
  };
  const settleStep: Step<ActionContext> = {
    name: 'settle', phase: undefined, onFailure: 'log-and-continue', onResume: 'rerun', whenAbandoning: 'run',
    why: 'a message left behind comes back and is dropped by verification; a Lease left behind is found by the orphan scan',
    share: '15s per message',
    shareEndsAtMs: () => undefined,
    run: (ctx) => settle(deps, ctx),
  };
  return [verifyStep, claimStep, awaitNodeReadyStep, ...(launch.waitForDaemonSets ? [awaitDaemonSetsStep] : []), completeStep, settleStep];
}

/**
 * --launch-hooks with --dry-run: the launch as a plan. Verified as usual, then what the instance's Node looks like
 * now (from the watch-backed index: no wait, no write) is said in one log line, a DryRunPlan Event on the Node when
 * it has one, and the dry-run metric; the message is deleted and the hook ends with its DefaultResult.
 */
export function launchDryRunSteps(deps: StepDeps, launch: LaunchSettings): readonly Step<ActionContext>[] {
  const [verifyStep, , , ...rest] = launchSteps(deps, launch);
  const planStep: Step<ActionContext> = {
    name: 'dry_run', phase: undefined, onFailure: 'degrade-and-continue', onResume: 'rerun', whenAbandoning: 'run',
    why: 'the plan is read from the node index only; nothing is waited for or changed', share: '10s',
    shareEndsAtMs: (v) => v.nowMs + 10_000,
    run: (ctx) => Promise.resolve(publishLaunchPlan(deps, launch, ctx)),
  };
  return [verifyStep!, planStep, rest[rest.length - 1]!];
}

function publishLaunchPlan(deps: StepDeps, launch: LaunchSettings, ctx: ActionContext): StepOutcome {
  const { action, log } = ctx;
  const node = ctx.node ?? deps.nodes.findByInstanceId(action.instanceId);
  ctx.node = node;
  const defaultResult = ctx.hook ? ` (${ctx.hook.defaultResult})` : '';
  const plan = isWarmPoolLaunch(ctx)
    ? `launch into the warm pool: would complete CONTINUE at once; instead the hook ends with its DefaultResult${defaultResult}`
    : `would wait up to ${launch.timeoutSeconds}s for ${node ? `node ${node.name} (Ready now: ${node.ready})` : 'the instance\'s Node (none registered yet)'}${launch.waitForDaemonSets ? ' and its DaemonSet pods' : ''} to be Ready, then complete CONTINUE (ABANDON if it is not); instead the hook ends with its DefaultResult${defaultResult} after its HeartbeatTimeout`;
  log.info(`dry run for launch event ${action.requestId}: ${plan}`);
  ctx.publish(NodeEvents.dryRunPlan(plan));
  deps.metrics.dryRunPlans.inc({ outcome: 'complete' });
  deps.metrics.recordMessage('deleted', 'dry_run');
  ctx.finish = { settle: 'delete', releaseRecord: false };
  return DONE;
}

/** The launch table's declarations as plain rows, with --launch-wait-daemonsets (the README's launch steps table; tests). */
export function launchStepRows(): Array<Pick<Step<ActionContext>, 'name' | 'phase' | 'onFailure' | 'share' | 'onResume' | 'whenAbandoning' | 'why'>> {
  const launch = { timeoutSeconds: 600, waitForDaemonSets: true };
  // Only the declarations are read: no step runs, so no port is needed.
  return launchSteps({ config: { launch } } as unknown as StepDeps, launch)
    .map(({ name, phase, onFailure, share, onResume, whenAbandoning, why }) => ({ name, phase, onFailure, share, onResume, whenAbandoning, why }));
}
