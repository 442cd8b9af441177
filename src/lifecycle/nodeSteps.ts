/**
 * The steps that work on the instance's Node and load balancers: find the Node (waiting for a late join, proving
 * an absence with a fresh read), cordon it, deregister the instance from its load balancers, drain it, delete it.
 * Each is idempotent, so a resumed action can run it again.
 */
import { NodeEvents } from '../observability/nodeEvents.js';
import type { ActionContext } from './actionContext.js';
import { DrainFailedError, describeError } from './errors.js';
import type { PodInfo } from './ports.js';
import { retryUntil } from './retryUntil.js';
import { linkedSignal } from './sleep.js';
import { DONE, type StepOutcome } from './step.js';
import type { StepDeps } from './stepDeps.js';

/** Kept free at the end of the join window for the fresh read that proves the instance has no Node. */
const PROOF_RESERVE_MS = 10_000;

/** The Node for the instance: the watch-backed index, a bounded wait for a late join, then a fresh read. */
export async function awaitNode(deps: StepDeps, ctx: ActionContext, signal: AbortSignal, shareEndsAtMs: number | undefined): Promise<StepOutcome> {
  const { action, log } = ctx;
  const id = action.instanceId;
  if (ctx.resumedPast('awaiting-node')) {
    // Resumed after the drain the Node may be deleted already: no wait. Before that, a missing Node is looked for.
    ctx.node = deps.nodes.findByInstanceId(id)
      ?? (ctx.resumedPast('draining') ? undefined : await readFresh(deps, ctx, signal));
  } else {
    let node = deps.nodes.findByInstanceId(id);
    if (!node) {
      const joinMs = Math.min(deps.config.nodeJoinTimeoutSeconds * 1000, shareEndsAtMs === undefined ? Infinity : shareEndsAtMs - Date.now() - PROOF_RESERVE_MS);
      log.info(`instance ${id} has no Node yet; waiting up to ${Math.max(0, Math.round(joinMs / 1000))}s for it to register`);
      const { signal: window, dispose } = linkedSignal([signal], Math.max(0, joinMs));
      try {
        node = await deps.nodes.waitForInstance(id, window);
        log.info(`node ${node.name} registered for instance ${id}; draining it`);
      } catch (e) {
        if (signal.aborted) throw e;
      } finally {
        dispose();
      }
    }
    if (!node) {
      node = await readFresh(deps, ctx, signal);
      if (node) log.warn(`node ${node.name} of instance ${id} was found by a fresh read from the apiserver although the node watch had not reported it; draining it`);
      else log.warn(`instance ${id} never registered as a Node within ${deps.config.nodeJoinTimeoutSeconds}s; nothing to drain (a fresh read from the apiserver confirms it has no Node)`);
    }
    ctx.node = node;
  }
  ctx.publish(NodeEvents.lifecycleHookReceived(action.requestId, id, action.autoScalingGroupName));
  return DONE;
}

/** A consistent read from the apiserver, never the watch cache; retried through outages within the step's share. */
function readFresh(deps: StepDeps, ctx: ActionContext, signal: AbortSignal) {
  return retryUntil(() => deps.nodes.readFresh(ctx.action.instanceId, signal), signal,
    { operation: 'reading the Nodes from the apiserver', log: ctx.log });
}

/**
 * The instance's VPC from EC2, read at most once per action (merged with other actions' reads); undefined, and a
 * warning, when EC2 cannot be asked.
 */
function instanceVpc(deps: StepDeps, ctx: ActionContext, signal: AbortSignal): Promise<string | undefined> {
  const instances = deps.instances;
  if (!instances) return Promise.resolve(undefined);
  return ctx.instanceFacts(async () => {
    try {
      return await retryUntil(() => instances.describeInstance(ctx.action.instanceId, signal), signal, { operation: 'ec2:DescribeInstances', log: ctx.log });
    } catch (e) {
      if (signal.aborted) throw e;
      ctx.log.warn(`could not read instance ${ctx.action.instanceId} from EC2 (${describeError(e)}); its VPC is unknown`, { error: e });
      return undefined;
    }
  }).then((facts) => facts?.vpcId);
}

/**
 * Cordons the node and sets the exclusion labels at once, before deregistration and before waiting for a drain
 * slot: nothing new is scheduled there and no controller re-adds it to a load balancer meanwhile. Idempotent.
 */
export async function cordon(deps: StepDeps, ctx: ActionContext, signal: AbortSignal): Promise<StepOutcome> {
  const node = ctx.node;
  if (!node) return { kind: 'skipped', why: 'the instance has no Node' };
  const labels = deps.config.nodeLabels;
  const result = await retryUntil(() => deps.cluster.cordon(node.name, labels, signal), signal, { operation: `cordon node ${node.name}`, log: ctx.log });
  ctx.log.info(result === 'gone' ? `node/${node.name} no longer exists` : `cordoned node/${node.name}${Object.keys(labels).length > 0 ? ' and labelled it to be excluded from load balancers' : ''}`);
  return DONE;
}

/**
 * Takes the instance (and, in its VPC, its pods' IPs) out of every load balancer and waits, within the step's share,
 * until they let go. Whatever did not finish is reported as a degradation: the drain runs next regardless.
 */
export async function deregister(deps: StepDeps, ctx: ActionContext, signal: AbortSignal): Promise<StepOutcome> {
  const { deregistrar, metrics } = deps;
  if (!deps.config.withDeregister || !deregistrar) return { kind: 'skipped', why: '--with-deregister=false' };
  const { action, log, node } = ctx;
  log.info('starting load balancer drain worker');
  metrics.deregisteringInstances.inc();
  try {
    const problems: string[] = [];
    let pods: PodInfo[] = [];
    if (node) {
      pods = await retryUntil(() => deps.cluster.listPodsOnNode(node.name, signal), signal, { operation: `list pods on node ${node.name}`, log })
        .catch((e: unknown) => {
          if (signal.aborted) throw e;
          problems.push(`the pods' IPs are unknown (${describeError(e)}), so ip targets were not looked for`);
          return [];
        });
    }
    const report = await deregistrar.deregister({
      instanceId: action.instanceId, autoScalingGroupName: action.autoScalingGroupName, node,
      podIps: pods.flatMap((p) => p.podIps), instanceVpc: () => instanceVpc(deps, ctx, signal),
      awaitDrained: deps.config.budget.deregistrationTimeoutSeconds > 0, log,
    }, signal);
    const all = [...problems, ...report.problems.map((p) => p.what)];
    if (all.length === 0) return DONE;
    const worst = report.timedOut ? 'timeout' : report.problems.find((p) => p.failureClass !== 'permanent')?.failureClass ?? 'permanent';
    return { kind: 'degraded', cause: `load balancer deregistration incomplete: ${all.join('; ')}`, failureClass: worst };
  } finally {
    metrics.deregisteringInstances.dec();
  }
}

/**
 * Drains within a --max-drain-concurrency slot; throws DrainFailedError when the drain and its escalation failed.
 * The instance's other actions (a second termination hook) share this drain instead of draining the Node again.
 */
export async function drain(deps: StepDeps, ctx: ActionContext, signal: AbortSignal): Promise<StepOutcome> {
  const node = ctx.node;
  if (!node) return { kind: 'skipped', why: 'the instance has no Node' };
  const { metrics, drainSlots } = deps;
  const { log } = ctx;
  await deps.instanceWork.once(`drain ${node.uid}`, signal, () => drainSlots.with(signal, async () => {
    log.debug('acquired drain semaphore');
    metrics.drainingInstances.inc();
    try {
      const result = await deps.drainer.drain(node, log, {
        event: (e) => ctx.publish(e),
        eviction: (outcome) => metrics.evictions.inc({ outcome }),
        drainFailed: () => metrics.failedNodeDrains.inc(),
      }, signal);
      if (result.outcome === 'failed') throw new DrainFailedError(node.name, result.reason);
      metrics.successfulNodeDrains.inc();
      ctx.publish(NodeEvents.nodeDrainSucceeded(node.name));
      log.info(`completed drain for node/${node.name}`);
    } finally {
      metrics.drainingInstances.dec();
      log.debug('released drain semaphore');
    }
  }), () => log.info(`node/${node.name} is drained for another lifecycle action of instance ${ctx.action.instanceId}; sharing that drain`));
  return DONE;
}

/** Deletes the Node object once its pods are gone (so a reused IP or name never finds a stale Node); shared like the drain. */
export async function deleteNode(deps: StepDeps, ctx: ActionContext, signal: AbortSignal): Promise<StepOutcome> {
  const node = ctx.node;
  if (!node) return { kind: 'skipped', why: 'the instance has no Node' };
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
