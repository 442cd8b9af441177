/**
 * The termination, as an ordered table of steps. Each row says where the action stands while the step runs (its
 * phase, recorded in the Lease so a resumed action starts there), what a failure of the step does, and how much of
 * the action's deadline the step may use. The load-balancer wait has its own share, bounded by
 * --deregistration-timeout and by what the drain still needs, so it can never eat the drain's budget; a failure
 * there (or anywhere before the drain) never skips the drain.
 */
import type { ActionContext } from './actionContext.js';
import { DrainPlanner } from '../drain/drainPlan.js';
import { awaitNode, cordon, deregister, untaint } from './nodeSteps.js';
import { awaitVolumes, deleteNode, drain, planDrain } from './drainSteps.js';
import { complete } from './completion.js';
import { claim, settle, verify } from './ownershipSteps.js';
import { type BudgetView, type Step, shareEndsAt as share } from './step.js';
import type { StepDeps } from './stepDeps.js';
import {
  COMPLETION_GRACE_SECONDS, COMPLETION_RESERVE_SECONDS, DELETE_NODE_RESERVE_SECONDS, MIN_DEREGISTRATION_SECONDS, drainBudgetSeconds,
} from './timeBudget.js';

/** The key of our --taint-node taint. */
export const TAINT_KEY = 'lifecycle-manager.io/terminating';

/** Verification and claiming are a handful of reads and one write: bounded on their own, before any deadline is known. */
const VERIFY_SHARE_SECONDS = 60;
const CORDON_SHARE_SECONDS = 30;
/** Two reads (the node's pods, the cluster's PodDisruptionBudgets), retried through hiccups. */
const PLAN_SHARE_SECONDS = 15;
const VOLUME_READS_SECONDS = 10;
const DELETE_NODE_SHARE_SECONDS = 30;
/** A fresh read that proves an instance has no Node always gets at least this long. */
const NODE_PROOF_SECONDS = 10;


/** The termination steps for this configuration (the deregistration sits before or after the drain: --deregister-order). */
export function terminationSteps(deps: StepDeps): readonly Step<ActionContext>[] {
  const c = deps.config;
  const drainSeconds = drainBudgetSeconds(c.budget);
  const deregistrationSeconds = c.withDeregister ? c.budget.deregistrationTimeoutSeconds : 0;
  const afterDrain = c.deregisterOrder === 'after-drain';
  const finishing = DELETE_NODE_RESERVE_SECONDS + COMPLETION_RESERVE_SECONDS;
  const deregisterAfterDrainReserve = afterDrain && c.withDeregister ? MIN_DEREGISTRATION_SECONDS : 0;
  const planner = new DrainPlanner(deps.cluster);
  const drainEndsAtMs = (v: BudgetView): number | undefined => share(v, undefined, deregisterAfterDrainReserve + finishing);
  const deregisterEndsAtMs = (v: BudgetView): number | undefined => share(v, deregistrationSeconds || MIN_DEREGISTRATION_SECONDS, afterDrain ? finishing : drainSeconds + finishing,
    Math.min(MIN_DEREGISTRATION_SECONDS, deregistrationSeconds || MIN_DEREGISTRATION_SECONDS));
  /** What the drain will have left when it starts: after the load-balancer wait when that comes first. */
  const drainSecondsLeft = (v: BudgetView): number | undefined => {
    const ends = drainEndsAtMs(v);
    if (ends === undefined || v.deadlineMs === undefined) return undefined;
    const starts = afterDrain || !c.withDeregister ? v.nowMs : Math.max(v.nowMs, deregisterEndsAtMs(v) ?? v.nowMs);
    return Math.max(0, (ends - starts) / 1000);
  };

  const verifyStep: Step<ActionContext> = {
    name: 'verify', phase: undefined, onFailure: 'release-message', onResume: 'rerun', whenAbandoning: 'run',
    why: 'until AWS confirms the instance is terminating in that group, nothing may be touched; the message is tried again later',
    share: `${VERIFY_SHARE_SECONDS}s`,
    shareEndsAtMs: (v) => share(v, VERIFY_SHARE_SECONDS, 0),
    run: (ctx, signal) => verify(deps, ctx, signal),
  };
  const claimStep: Step<ActionContext> = {
    name: 'claim', phase: 'verified', onFailure: 'release-message', onResume: 'rerun', whenAbandoning: 'run',
    why: 'without its Lease the action could be worked on twice; nothing has been touched yet, so the message is tried again later',
    // Following another replica's action lasts as long as that action may.
    share: 'until the deadline (while following another replica that holds the action)',
    shareEndsAtMs: (v) => share(v, undefined, 0),
    run: (ctx, signal) => claim(deps, ctx, signal),
  };
  const awaitNodeStep: Step<ActionContext> = {
    name: 'await_node', phase: 'awaiting-node', onFailure: 'abandon', onResume: 'rerun', whenAbandoning: 'run',
    why: 'an instance whose Node can be neither found nor proven absent cannot be drained; it is abandoned, loudly',
    share: '--node-join-timeout, then a fresh read; never what the later steps need',
    shareEndsAtMs: (v) => share(v, c.nodeJoinTimeoutSeconds + NODE_PROOF_SECONDS * 3, deregistrationSeconds + drainSeconds + finishing, NODE_PROOF_SECONDS),
    run: (ctx, signal, endsAtMs) => awaitNode(deps, ctx, signal, endsAtMs),
  };
  const cordonStep: Step<ActionContext> = {
    name: 'cordon', phase: 'cordoning', onFailure: 'degrade-and-continue', onResume: 'skip-when-past', whenAbandoning: 'run',
    why: 'every drain attempt cordons the node again (unless the node index shows it cordoned already), so the drain still runs',
    share: `${CORDON_SHARE_SECONDS}s`,
    shareEndsAtMs: (v) => share(v, CORDON_SHARE_SECONDS, drainSeconds + finishing, 5),
    run: (ctx, signal) => cordon(deps, ctx, signal),
  };
  const deregisterStep: Step<ActionContext> = {
    name: 'deregister', phase: 'deregistering', onFailure: 'degrade-and-continue', onResume: 'skip-when-past', whenAbandoning: 'run',
    why: 'a load balancer that fails or drains slowly must not cost the drain: it is reported and the pods are evicted anyway',
    share: '--deregistration-timeout, cut short so that the drain keeps its whole budget',
    shareEndsAtMs: deregisterEndsAtMs,
    run: (ctx, signal) => deregister(deps, ctx, signal),
  };
  const drainStep: Step<ActionContext> = {
    name: 'drain', phase: 'draining', onFailure: 'abandon', onResume: 'skip-when-past', whenAbandoning: 'run',
    why: 'pods still on the node after every attempt and the escalation: the Node is kept and the action abandoned',
    share: 'the rest of the deadline, less what deleting the Node and completing need (at least --drain-retries × --drain-timeout + intervals + escalation, by the startup check)',
    shareEndsAtMs: drainEndsAtMs,
    run: (ctx, signal) => drain(deps, ctx, signal),
  };
  const planDrainStep: Step<ActionContext> = {
    name: 'plan_drain', phase: 'planning', onFailure: 'degrade-and-continue', onResume: 'skip-when-past', whenAbandoning: 'skip',
    why: 'the plan only warns (Events on the Node and the blocking pods\' owners) about what will hold the drain up; without it the drain runs all the same',
    share: `${PLAN_SHARE_SECONDS}s`,
    shareEndsAtMs: (v) => share(v, PLAN_SHARE_SECONDS, drainSeconds + finishing),
    run: (ctx, signal) => planDrain(deps, planner, ctx, drainSecondsLeft({ nowMs: Date.now(), deadlineMs: ctx.deadlineMs }), signal),
  };
  const awaitVolumesStep: Step<ActionContext> = {
    name: 'await_volumes', phase: 'awaiting-volumes', onFailure: 'degrade-and-continue', onResume: 'skip-when-past', whenAbandoning: 'skip',
    why: 'volumes still attached after the bound are reported; the instance is released anyway (EC2 detaches them as it terminates)',
    share: '--volume-detach-timeout, within what deleting the Node and completing need',
    // The reads before the wait (the pods left on the node, their claims) get a little on top of the wait itself.
    shareEndsAtMs: (v) => share(v, c.budget.volumeDetachTimeoutSeconds + VOLUME_READS_SECONDS, finishing),
    run: (ctx, signal, endsAtMs) => awaitVolumes(deps, ctx, signal, endsAtMs),
  };
  const deleteNodeStep: Step<ActionContext> = {
    name: 'delete_node', phase: 'deleting-node', onFailure: 'degrade-and-continue', onResume: 'skip-when-past', whenAbandoning: 'skip',
    why: 'the pods are gone; a Node object left behind is removed by the cloud controller once the instance terminates',
    share: `${DELETE_NODE_SHARE_SECONDS}s`,
    shareEndsAtMs: (v) => share(v, DELETE_NODE_SHARE_SECONDS, COMPLETION_RESERVE_SECONDS, 5),
    run: (ctx, signal) => deleteNode(deps, ctx, signal),
  };
  const untaintStep: Step<ActionContext> = {
    name: 'untaint', phase: undefined, onFailure: 'degrade-and-continue', onResume: 'rerun', whenAbandoning: 'run',
    why: 'only when abandoning (the Node stays with its pods): our taint is taken off again; if that fails it is reported and the action still completes',
    share: `${CORDON_SHARE_SECONDS}s`,
    shareEndsAtMs: (v) => share(v, CORDON_SHARE_SECONDS, COMPLETION_RESERVE_SECONDS, 5),
    run: (ctx, signal) => untaint(deps, ctx, signal),
  };
  const completeStep: Step<ActionContext> = {
    name: 'complete', phase: 'completing', onFailure: 'leave-to-aws', onResume: 'rerun', whenAbandoning: 'run',
    why: 'AWS refusing the completion cannot be helped from here; the hook ends with its DefaultResult',
    share: `until the deadline, and ${COMPLETION_GRACE_SECONDS}s past it`,
    shareEndsAtMs: (v) => share(v, undefined, -COMPLETION_GRACE_SECONDS),
    run: (ctx, signal) => complete(deps, ctx, signal),
  };
  const settleStep: Step<ActionContext> = {
    name: 'settle', phase: undefined, onFailure: 'log-and-continue', onResume: 'rerun', whenAbandoning: 'run',
    why: 'a message left behind comes back and is dropped by verification; a Lease left behind is found by the orphan scan',
    share: '15s per message',
    shareEndsAtMs: () => undefined,
    run: (ctx) => settle(deps, ctx),
  };
  const lb = [deregisterStep];
  return [
    verifyStep, claimStep, awaitNodeStep, cordonStep, planDrainStep,
    ...(afterDrain ? [] : lb), drainStep, ...(afterDrain ? lb : []),
    awaitVolumesStep, deleteNodeStep, ...(c.taint ? [untaintStep] : []), completeStep, settleStep,
  ];
}

/** The table's declarations as plain rows (the README's steps table; tests). */
export function stepRows(order: 'before-drain' | 'after-drain', options: { taint?: boolean } = {}): Array<Pick<Step<ActionContext>, 'name' | 'phase' | 'onFailure' | 'share' | 'onResume' | 'whenAbandoning' | 'why'>> {
  const config = {
    verifyLifecycleState: true, maxTimeToProcessSeconds: 3600, deregisterOrder: order, withDeregister: true, nodeJoinTimeoutSeconds: 120,
    nodeLabels: {}, retryLaterSeconds: 30, cordonOnly: false, dryRun: false,
    taint: options.taint ? { key: TAINT_KEY, value: 'i-0123456789abcdef0', effect: 'NoSchedule' } : undefined,
    budget: { nodeJoinTimeoutSeconds: 120, deregistrationTimeoutSeconds: 600, drainTimeoutSeconds: 300, drainRetries: 3, drainIntervalSeconds: 30, maxTerminationGracePeriodSeconds: 900, volumeDetachTimeoutSeconds: 120 },
  };
  // Only the declarations are read: no step runs, so no port is needed.
  return terminationSteps({ config } as unknown as StepDeps).map(({ name, phase, onFailure, share: s, onResume, whenAbandoning, why }) => ({ name, phase, onFailure, share: s, onResume, whenAbandoning, why }));
}
