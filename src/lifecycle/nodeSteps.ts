/**
 * The steps that find and prepare the instance's Node: find it (waiting for a late join, proving an absence with a
 * fresh read), cordon it, deregister the instance from its load balancers. Each is idempotent, so a resumed action
 * can run it again.
 */
import { NodeEvents } from '../observability/nodeEvents.js';
import type { ActionContext } from './actionContext.js';
import { describeError } from './errors.js';
import type { PodInfo } from './ports.js';
import { retryUntil } from './retryUntil.js';
import { linkedSignal } from './sleep.js';
import { DONE, type StepOutcome } from './step.js';
import type { StepDeps } from './stepDeps.js';

/** Kept free at the end of the join window for the fresh read that proves the instance has no Node. */
const PROOF_RESERVE_MS = 10_000;

/** The Node for the instance: the watch-backed index, a bounded wait for a late join, then a fresh read. */
export async function awaitNode(deps: StepDeps, ctx: ActionContext, signal: AbortSignal, shareEndsAtMs: number | undefined, announce = true): Promise<StepOutcome> {
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
  if (announce) ctx.publish(NodeEvents.lifecycleHookReceived(action.requestId, id, action.autoScalingGroupName));
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
  const taint = deps.config.taint;
  if (taint && result !== 'gone') {
    const ours = { ...taint, value: ctx.action.instanceId };
    await retryUntil(() => deps.cluster.taint(node.name, ours, signal), signal, { operation: `taint node ${node.name}`, log: ctx.log });
    ctx.log.info(`tainted node/${node.name} with ${ours.key}=${ours.value}:${ours.effect}`);
  }
  return DONE;
}

/** Takes our taint off a Node the action is abandoning (its pods stay there): nothing of ours is left on it. */
export async function untaint(deps: StepDeps, ctx: ActionContext, signal: AbortSignal): Promise<StepOutcome> {
  const { node } = ctx;
  const taint = deps.config.taint;
  if (ctx.result !== 'ABANDON') return { kind: 'skipped', why: 'the action is not abandoned' };
  if (!node || !taint) return { kind: 'skipped', why: 'no Node, or --taint-node=false' };
  const result = await retryUntil(() => deps.cluster.untaint(node.name, taint.key, signal), signal, { operation: `untaint node ${node.name}`, log: ctx.log });
  if (result === 'removed') ctx.log.info(`removed taint ${taint.key} from node/${node.name}, which stays`);
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
    let pods: readonly PodInfo[] = [];
    // Before the drain, the pods the plan read moments ago (the node was cordoned first: nothing new is scheduled
    // there) are the ones to look for; after it, whatever is left.
    const planned = deps.config.deregisterOrder === 'before-drain' ? ctx.podsAtPlan : undefined;
    if (planned) {
      pods = planned;
    } else if (node) {
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
