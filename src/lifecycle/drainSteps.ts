/**
 * The steps that empty the instance's Node and let it go: plan the drain (warn about what will block it before the
 * first eviction), drain it tier by tier, wait for its volumes to be detached, delete it. Each is idempotent, so a
 * resumed action can run it again; the drain and the Node deletion are shared by the instance's other actions.
 */
import { blockersByOwner, describePlan, type DrainPlanner } from '../drain/drainPlan.js';
import { describeAttachments } from '../drain/volumeDetachment.js';
import { podRef } from '../drain/podSelection.js';
import { NodeEvents } from '../observability/nodeEvents.js';
import type { ActionContext } from './actionContext.js';
import { DrainFailedError, describeError } from './errors.js';
import { retryUntil } from './retryUntil.js';
import { linkedSignal, untilAborted } from './sleep.js';
import { DONE, type StepOutcome } from './step.js';
import type { StepDeps } from './stepDeps.js';

const CORDON_ONLY: StepOutcome = { kind: 'skipped', why: '--cordon-only' };
/** Owners (or bare pods) warned about one plan at most: a node full of bare pods is not an Event storm. */
const MAX_OWNER_WARNINGS = 10;
/** The plan's warnings are waited for this long at most: they are out before the first eviction, a slow apiserver aside. */
const PLAN_EVENTS_WAIT_MS = 2_000;

/**
 * Before the first eviction: what will block the drain or be lost with the node, published as one Warning Event on
 * the Node and one on each blocking pod's owner, a log line and a metric — minutes before an escalation would say
 * it. `drainSecondsLeft` is what the drain will have of the deadline (undefined when no deadline is known).
 */
export async function planDrain(deps: StepDeps, planner: DrainPlanner, ctx: ActionContext, drainSecondsLeft: number | undefined, signal: AbortSignal): Promise<StepOutcome> {
  const node = ctx.node;
  if (!node) return { kind: 'skipped', why: 'the instance has no Node' };
  if (deps.config.cordonOnly) return CORDON_ONLY;
  const plan = await planner.plan(node.name, drainSecondsLeft, ctx.log, signal);
  ctx.podsAtPlan = plan.podsOnNode;
  const summary = describePlan(plan);
  for (const b of plan.blockers) deps.metrics.drainPlanProblems.inc({ kind: b.kind });
  if (plan.blockers.length === 0) {
    ctx.log.info(`drain plan for node ${node.name}: ${summary}`);
    return DONE;
  }
  ctx.log.warn(`drain plan for node ${node.name}: ${summary}`);
  const sent = [ctx.publish(NodeEvents.drainPlanWarning(node.name, summary))];
  for (const { owner, blockers } of blockersByOwner(plan, MAX_OWNER_WARNINGS)) {
    const problems = blockers.map((b) => `pod ${podRef(b.pod)}: ${b.detail}`).join('; ');
    sent.push(deps.events.publishOn?.(owner, NodeEvents.drainPlanWarningForOwner(node.name, problems)));
  }
  // Warned before the first eviction: the drain starts once the apiserver has the warnings (or after a moment).
  const wait = linkedSignal([signal], PLAN_EVENTS_WAIT_MS);
  try {
    await untilAborted(Promise.all(sent), wait.signal).catch(() => undefined);
  } finally {
    wait.dispose();
  }
  return DONE;
}

/**
 * Drains within a --max-drain-concurrency slot; throws DrainFailedError when the drain and its escalation failed.
 * The instance's other actions (a second termination hook) share this drain instead of draining the Node again.
 */
export async function drain(deps: StepDeps, ctx: ActionContext, signal: AbortSignal): Promise<StepOutcome> {
  const node = ctx.node;
  if (!node) return { kind: 'skipped', why: 'the instance has no Node' };
  if (deps.config.cordonOnly) {
    ctx.log.info(`--cordon-only: node/${node.name} stays cordoned with its pods; no eviction`);
    return CORDON_ONLY;
  }
  const { metrics, drainSlots } = deps;
  const { log } = ctx;
  await deps.instanceWork.once(`drain ${node.uid}`, signal, () => drainSlots.with(signal, async () => {
    log.debug('acquired drain semaphore');
    // The drain reads the node's pods at every poll: one watch answers them, started where the plan's LIST left
    // off, for as long as the slot is held, so the pod watches open at once stay within
    // --max-drain-concurrency however many actions are in flight.
    const draining = new AbortController();
    deps.cluster.watchPodsOnNode?.(node.name, draining.signal);
    metrics.drainingInstances.inc();
    try {
      const result = await deps.drainer.drain(node, log, {
        event: (e) => ctx.publish(e),
        eviction: (outcome) => metrics.evictions.inc({ outcome }),
        drainFailed: () => metrics.failedNodeDrains.inc(),
        tierDone: (tier, seconds) => metrics.phaseDuration.observe({ phase: `drain_tier_${tier.replace('-', '_')}` }, seconds),
      }, signal);
      if (result.outcome === 'failed') throw new DrainFailedError(node.name, result.reason);
      metrics.successfulNodeDrains.inc();
      ctx.publish(NodeEvents.nodeDrainSucceeded(node.name));
      log.info(`completed drain for node/${node.name}`);
    } finally {
      draining.abort();
      metrics.drainingInstances.dec();
      log.debug('released drain semaphore');
    }
  }), () => log.info(`node/${node.name} is drained for another lifecycle action of instance ${ctx.action.instanceId}; sharing that drain`));
  return DONE;
}

/**
 * After the pods are gone: waits, within --volume-detach-timeout and the step's share, until the attach/detach
 * controller has detached their volumes (no VolumeAttachment left for the node but those of the pods a drain
 * leaves), so a replacement StatefulSet pod elsewhere is not stuck on "Multi-Attach error" for minutes. A wait that
 * runs out is reported; it never costs the completion.
 */
export async function awaitVolumes(deps: StepDeps, ctx: ActionContext, signal: AbortSignal, shareEndsAtMs: number | undefined): Promise<StepOutcome> {
  const node = ctx.node;
  const timeoutSeconds = deps.config.budget.volumeDetachTimeoutSeconds;
  if (!node) return { kind: 'skipped', why: 'the instance has no Node' };
  if (deps.config.cordonOnly) return CORDON_ONLY;
  if (!deps.volumes || timeoutSeconds <= 0) return { kind: 'skipped', why: '--volume-detach-timeout=0' };
  // Ends a moment before the step's share, so running out is reported as what is still attached, not as an abort.
  const timeoutMs = Math.min(timeoutSeconds * 1000, shareEndsAtMs === undefined ? Infinity : Math.max(0, shareEndsAtMs - Date.now() - 1_000));
  const volumes = deps.volumes;
  let shared = false;
  const outcome = await deps.instanceWork.once(`volumes ${node.uid}`, signal, () => volumes.wait(node.name, timeoutMs, ctx.log, signal), () => {
    shared = true;
    ctx.log.info(`the volumes of node/${node.name} are awaited for another lifecycle action of instance ${ctx.action.instanceId}`);
  });
  // The action that waited reports the outcome; the instance's other actions only share it.
  if (shared) return DONE;
  switch (outcome.kind) {
    case 'none':
      ctx.log.debug(`node ${node.name} has no volume attachments to wait for`);
      return DONE;
    case 'detached':
      deps.metrics.volumeDetachments.inc({ outcome: 'detached' });
      ctx.log.info(`the ${outcome.count} volumes of node ${node.name} were detached after ${outcome.seconds.toFixed(1)}s`);
      ctx.publish(NodeEvents.volumesDetached(node.name, outcome.count, outcome.seconds));
      return DONE;
    case 'timed-out':
      deps.metrics.volumeDetachments.inc({ outcome: 'timed-out' });
      return {
        kind: 'degraded', failureClass: 'timeout',
        cause: `${outcome.remaining.length} volumes still attached to node ${node.name} after ${Math.round(outcome.seconds)}s: ${describeAttachments(outcome.remaining)}; pods that need them elsewhere may wait for a forced detach`,
      };
    case 'unknown':
      deps.metrics.volumeDetachments.inc({ outcome: 'unknown' });
      return { kind: 'degraded', failureClass: 'transient', cause: `cannot tell whether node ${node.name} still has volumes attached: ${outcome.why}` };
  }
}

/** Deletes the Node object once its pods are gone (so a reused IP or name never finds a stale Node); shared like the drain. */
export async function deleteNode(deps: StepDeps, ctx: ActionContext, signal: AbortSignal): Promise<StepOutcome> {
  const node = ctx.node;
  if (!node) return { kind: 'skipped', why: 'the instance has no Node' };
  // Its pods still run there: deleting the Node would have them garbage-collected without any grace.
  if (deps.config.cordonOnly) return CORDON_ONLY;
  const { metrics } = deps;
  await deps.instanceWork.once(`delete ${node.uid}`, signal, async () => {
    ctx.log.info(`deleting node/${node.name}`);
    try {
      await retryUntil(() => deps.cluster.deleteNode(node.name, signal), signal, { operation: `delete node ${node.name}`, log: ctx.log });
    } catch (e) {
      if (!ctx.signal.aborted) {
        metrics.failedNodeDeletes.inc();
        ctx.publish(NodeEvents.nodeDeleteFailed(node.name, describeError(e)));
      }
      throw e;
    }
    metrics.successfulNodeDeletes.inc();
    ctx.publish(NodeEvents.nodeDeleteSucceeded(node.name));
    ctx.log.info(`completed node deletion/${node.name}`);
  }, () => ctx.log.info(`node/${node.name} is deleted for another lifecycle action of instance ${ctx.action.instanceId}`));
  return DONE;
}
