/**
 * --dry-run: the termination as a plan. Everything is read and decided as usual — verification, the Node, its pods
 * and their PodDisruptionBudgets, the load balancers, the volumes — and nothing is changed: no Lease, cordon, label,
 * taint, eviction, deregistration, Node deletion, heartbeat or completion. The plan is logged, published as one
 * `DryRunPlan` Event on the Node and counted; then the message is deleted, so the hook ends with its DefaultResult
 * after its HeartbeatTimeout, as if nothing were installed.
 */
import { DrainPlanner, describePlan } from '../drain/drainPlan.js';
import { describeAttachments } from '../drain/volumeDetachment.js';
import { NodeEvents } from '../observability/nodeEvents.js';
import type { ActionContext } from './actionContext.js';
import { describeError } from './errors.js';
import { awaitNode } from './nodeSteps.js';
import { settle, verify } from './ownershipSteps.js';
import { retryUntil } from './retryUntil.js';
import type { Step, StepOutcome } from './step.js';
import { DONE } from './step.js';
import type { StepDeps } from './stepDeps.js';

const PLAN_SHARE_MS = 60_000;

export function dryRunSteps(deps: StepDeps): readonly Step<ActionContext>[] {
  const planner = new DrainPlanner(deps.cluster);
  const bounded = (seconds: number) => (v: { nowMs: number; deadlineMs: number | undefined }): number =>
    Math.min(v.nowMs + seconds * 1000, v.deadlineMs ?? Infinity);
  return [
    {
      name: 'verify', phase: undefined, onFailure: 'release-message', onResume: 'rerun', whenAbandoning: 'run',
      why: 'as for a termination: nothing is planned for a message AWS does not confirm', share: '60s',
      shareEndsAtMs: bounded(60), run: (ctx, signal) => verify(deps, ctx, signal),
    },
    {
      name: 'await_node', phase: undefined, onFailure: 'degrade-and-continue', onResume: 'rerun', whenAbandoning: 'run',
      why: 'the plan says when the Node could not be found', share: '--node-join-timeout, then a fresh read',
      shareEndsAtMs: bounded(deps.config.nodeJoinTimeoutSeconds + 30),
      run: (ctx, signal, endsAtMs) => awaitNode(deps, ctx, signal, endsAtMs, false),
    },
    {
      name: 'dry_run', phase: undefined, onFailure: 'degrade-and-continue', onResume: 'rerun', whenAbandoning: 'run',
      why: 'what could not be read is named in the plan; the plan is still published', share: `${PLAN_SHARE_MS / 1000}s`,
      shareEndsAtMs: (v) => v.nowMs + PLAN_SHARE_MS, run: (ctx, signal) => publishPlan(deps, planner, ctx, signal),
    },
    {
      name: 'settle', phase: undefined, onFailure: 'log-and-continue', onResume: 'rerun', whenAbandoning: 'run',
      why: 'a message left behind comes back and is planned again', share: '15s per message',
      shareEndsAtMs: () => undefined, run: (ctx) => settle(deps, ctx),
    },
  ];
}

/** Reads what the termination would do and says it: one log line, one Event on the Node, a metric. */
async function publishPlan(deps: StepDeps, planner: DrainPlanner, ctx: ActionContext, signal: AbortSignal): Promise<StepOutcome> {
  const { action, log, node } = ctx;
  const c = deps.config;
  const unread: string[] = [];
  const read = async <T>(what: string, work: () => Promise<T>): Promise<T | undefined> => {
    try {
      return await work();
    } catch (e) {
      if (signal.aborted) throw e;
      unread.push(`${what} (${describeError(e)})`);
      return undefined;
    }
  };
  const lines: string[] = [];
  if (!node) lines.push(`instance ${action.instanceId} has no Node: would drain nothing`);
  else {
    const marks = [Object.keys(c.nodeLabels).length > 0 ? 'label it to be excluded from load balancers' : '', c.taint ? `taint it ${c.taint.key}=${action.instanceId}:${c.taint.effect}` : ''].filter(Boolean);
    lines.push(`would cordon node ${node.name}${marks.length > 0 ? ` and ${marks.join(' and ')}` : ''}`);
  }
  if (c.withDeregister && deps.deregistrar) {
    const pods = node ? await read('the pods\' IPs', () => retryUntil(() => deps.cluster.listPodsOnNode(node.name, signal), signal, { operation: `list pods on node ${node.name}`, log })) : [];
    const report = await read('the load balancers', () => deps.deregistrar!.deregister({
      instanceId: action.instanceId, autoScalingGroupName: action.autoScalingGroupName, node, podIps: (pods ?? []).flatMap((p) => p.podIps),
      instanceVpc: async () => (deps.instances ? (await deps.instances.describeInstance(action.instanceId, signal))?.vpcId : undefined),
      awaitDrained: false, dryRun: true, log,
    }, signal));
    if (report) {
      lines.push(`would deregister from ${report.found && report.found.length > 0 ? report.found.join(', ') : 'no load balancer'}`);
      unread.push(...report.problems.map((p) => p.what));
    }
  }
  if (node && c.cordonOnly) lines.push('would not evict (--cordon-only)');
  else if (node) {
    const plan = await read('the drain plan', () => planner.plan(node.name, undefined, log, signal));
    if (plan) lines.push(`would drain: ${describePlan(plan)}`);
    if (deps.volumes && c.budget.volumeDetachTimeoutSeconds > 0) {
      const attached = await read('the volume attachments', () => deps.volumes!.attached(node.name, log, signal));
      if (attached && attached.length > 0) lines.push(`would wait up to ${c.budget.volumeDetachTimeoutSeconds}s for ${attached.length} volumes to detach (${describeAttachments(attached)})`);
    }
    lines.push(`would delete node ${node.name}`);
  }
  lines.push(`would complete CONTINUE (ABANDON if the pods never go); instead the hook ends with its DefaultResult${ctx.hook ? ` (${ctx.hook.defaultResult})` : ''} after its HeartbeatTimeout`);
  if (unread.length > 0) lines.push(`could not read: ${unread.join('; ')}`);
  const plan = lines.join('; ');
  log.info(`dry run for event ${action.requestId}: ${plan}`);
  ctx.publish(NodeEvents.dryRunPlan(plan));
  ctx.dryRunPlan = plan;
  deps.metrics.dryRunPlans.inc({ outcome: unread.length > 0 ? 'partial' : 'complete' });
  deps.metrics.recordMessage('deleted', 'dry_run');
  ctx.finish = { settle: 'delete', releaseRecord: false };
  return DONE;
}
