import type { Logger } from '../observability/logger.js';
import { ActionContext, type ActionOrigin } from './actionContext.js';
import type { ActionMessage } from './actionRegistry.js';
import { ActionGoneError, OwnershipLostError } from './errors.js';
import { keepActionAlive } from './heartbeat.js';
import { launchDryRunSteps, launchSteps } from './launchSteps.js';
import type { ActionNotices } from './notices.js';
import { excerpt, parseLifecycleMessage } from './message.js';
import { keepOwnership } from './ownership.js';
import type { ActionPhase, ActionRecord, EventRecorder, QueueMessage } from './ports.js';
import type { Step } from './step.js';
import type { StepDeps } from './stepDeps.js';
import { runSteps } from './stepRunner.js';
import { withTimeout } from './sleep.js';
import { dryRunSteps } from './dryRunSteps.js';
import { terminationSteps } from './terminationSteps.js';

export interface WorkflowDeps extends Omit<StepDeps, 'keepAlive' | 'startHeartbeats'> {
  readonly events: EventRecorder;
  readonly log: Logger;
  /** With a redrive policy, malformed messages are left for the dead-letter queue instead of deleted. */
  readonly queueHasRedrivePolicy: boolean;
  /** Aborted on SIGTERM: actions stop at a safe point and hand their messages and ownership back. */
  readonly shutdown: AbortSignal;
  /** Webhook notices (received, drained, completed, failed) from how the steps end; undefined sends none. */
  readonly notices?: Pick<ActionNotices, 'stepEnded'> | undefined;
}

const SETTLE_TIMEOUT_MS = 15_000;

/**
 * One action's journey: parse the SQS message → admit it (a duplicate joins the action in flight) → run the table
 * of its transition top-down, each step with its own share of the deadline and its own failure policy: for a
 * termination the steps of `terminationSteps.ts` (verify, claim, await the Node, cordon, deregister and drain in the
 * order --deregister-order gives, delete the Node, complete, settle); for a launch (--launch-hooks) those of
 * `launchSteps.ts` (verify, claim, await the Node Ready, its DaemonSet pods, complete, settle).
 */
export class LifecycleWorkflow {
  /** The termination table (exported for the failure-matrix test and the docs). */
  readonly steps: readonly Step<ActionContext>[];
  /** The launch table; undefined without --launch-hooks. */
  readonly launchSteps: readonly Step<ActionContext>[] | undefined;
  /** The phases in the order each table's steps record them: where a resumed action starts. */
  private readonly phaseOrder: readonly ActionPhase[];
  /** Actions whose heartbeats run (started at verification, or at the claim). */
  private readonly heartbeating = new WeakSet<ActionContext>();
  private readonly launchPhaseOrder: readonly ActionPhase[];

  constructor(private readonly deps: WorkflowDeps) {
    const stepDeps = { ...deps, keepAlive: (ctx: ActionContext) => this.keepAlive(ctx), startHeartbeats: (ctx: ActionContext) => this.startHeartbeats(ctx) };
    this.steps = deps.config.dryRun ? dryRunSteps(stepDeps) : terminationSteps(stepDeps);
    this.launchSteps = deps.config.launch ? (deps.config.dryRun ? launchDryRunSteps(stepDeps, deps.config.launch) : launchSteps(stepDeps, deps.config.launch)) : undefined;
    this.phaseOrder = this.steps.flatMap((s) => (s.phase ? [s.phase] : []));
    this.launchPhaseOrder = (this.launchSteps ?? []).flatMap((s) => (s.phase ? [s.phase] : []));
  }

  readonly handleMessage = async (message: QueueMessage, lease: ActionMessage): Promise<void> => {
    const { metrics, log, queueHasRedrivePolicy } = this.deps;
    const parsed = parseLifecycleMessage(message.body, { launchHooks: this.launchSteps !== undefined });
    if (parsed.kind === 'ignored') {
      log.info(`received test notification${parsed.autoScalingGroupName ? ` for ${parsed.autoScalingGroupName}` : ''}; deleting it`);
      return this.dropMessage(lease, 'test_notification');
    }
    if (parsed.kind === 'unsupported') {
      log.info(`message ${message.messageId} is not a termination lifecycle action (${parsed.detail}); deleting it`);
      return this.dropMessage(lease, parsed.reason);
    }
    if (parsed.kind === 'invalid') {
      const what = `malformed message ${message.messageId} (${parsed.reason}: ${parsed.detail}), receive count ${message.receiveCount}: ${excerpt(message.body)}`;
      if (queueHasRedrivePolicy) {
        log.warn(`${what}; leaving it for the dead-letter queue`);
        metrics.recordMessage('left_for_redelivery', parsed.reason);
        return withTimeout([], SETTLE_TIMEOUT_MS, (signal) => lease.release(0, signal));
      }
      log.warn(`${what}; deleting it (the queue has no dead-letter queue)`);
      return this.dropMessage(lease, parsed.reason);
    }
    const admitted = this.deps.registry.admit(parsed.action, lease);
    if (admitted.status === 'joined') {
      metrics.recordMessage('duplicate', 'action_in_flight');
      log.info(`${parsed.action.instanceId}> event ${parsed.action.requestId} is already being processed; message ${message.messageId} will be settled with it`);
      return admitted.finished;
    }
    await this.run({
      action: parsed.action, receiveCount: message.receiveCount, record: undefined, sentAtMs: message.sentAtMs,
      firstReceivedAtMs: Math.min(Date.now(), message.firstReceivedAtMs ?? Date.now()),
    });
  };

  /** Resumes an action whose owner stopped renewing its record (crash, failover, restart). */
  readonly resume = async (record: ActionRecord): Promise<void> => {
    if (this.deps.registry.admit(record.action, undefined).status === 'joined') return;
    await this.run({ action: record.action, receiveCount: 1, record, sentAtMs: undefined, firstReceivedAtMs: record.receivedAtMs });
  };

  private async run(origin: ActionOrigin): Promise<void> {
    const { metrics, store, config, events, shutdown } = this.deps;
    const { action } = origin;
    const launch = action.launch === true;
    const log = this.deps.log.child(action.instanceId, { instanceId: action.instanceId, requestId: action.requestId, asg: action.autoScalingGroupName });
    const ctx = new ActionContext(origin, log, shutdown, (node, event) => events.publish(node, event), launch ? this.launchPhaseOrder : this.phaseOrder);
    let steps = launch ? this.launchSteps : this.steps;
    if (!steps) {
      // A launch found in a Lease (written while --launch-hooks was on): it is not worked on now; only settled.
      log.warn(`event ${action.requestId} is a launch lifecycle action and --launch-hooks is off; leaving it to the hook's DefaultResult`);
      metrics.recordMessage('deleted', 'launch_transition');
      ctx.finish = { settle: 'delete', releaseRecord: true };
      steps = this.steps.slice(-1);
    }
    const gauge = launch ? metrics.launchingInstances : metrics.terminatingInstances;
    gauge.inc();
    try {
      await runSteps(steps, ctx, {
        metrics, retryLaterSeconds: config.retryLaterSeconds,
        lostReleaseDelaySeconds: Math.max(30, 2 * (store?.leaseDurationSeconds ?? 15)),
        // Launches post no notices: the webhook's events and texts are a termination's ("draining it", "drained").
        onStepEnded: launch ? undefined : this.deps.notices?.stepEnded,
      });
    } finally {
      await ctx.stopKeepAlive();
      ctx.dispose();
      gauge.dec();
    }
  }

  /**
   * Heartbeats (every half HeartbeatTimeout) from verification until the action ends. A replica that finds the
   * action held elsewhere keeps sending them while it follows: harmless twice, and the hook outlives a dead owner.
   */
  private startHeartbeats(ctx: ActionContext): void {
    const { autoScaling, metrics } = this.deps;
    const { action, log, hook } = ctx;
    if (!hook || this.heartbeating.has(ctx)) return;
    this.heartbeating.add(ctx);
    ctx.keepAlive((signal) => keepActionAlive({
      action, intervalMs: (hook.heartbeatTimeoutSeconds * 1000) / 2, autoScaling, log, signal,
      onGone: () => ctx.stopNow(new ActionGoneError(action.instanceId)), onBeat: (result) => metrics.heartbeats.inc({ result }),
    }).catch((e: unknown) => log.error(`heartbeat loop failed: ${String(e)}`, { error: e })));
  }

  /** Ownership (phase writes, the replica's liveness) for a claimed action, until it ends; heartbeats if not yet. */
  private keepAlive(ctx: ActionContext): void {
    const { store } = this.deps;
    const { action, log, hook } = ctx;
    if (!hook) return;
    this.startHeartbeats(ctx);
    if (store) {
      ctx.keepAlive((signal) => keepOwnership({
        action, store, heartbeatTimeoutSeconds: hook.heartbeatTimeoutSeconds, recordedPhase: ctx.resumedFrom ?? 'verified', currentPhase: () => ctx.phase ?? 'verified', log, signal,
        onLost: () => ctx.stopNow(new OwnershipLostError(action.instanceId)),
      }));
    }
  }

  private async dropMessage(lease: ActionMessage, reason: string): Promise<void> {
    this.deps.metrics.recordMessage('deleted', reason);
    await withTimeout([], SETTLE_TIMEOUT_MS, (signal) => lease.delete(signal));
  }
}
