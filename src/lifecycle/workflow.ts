import type { Logger } from '../observability/logger.js';
import { NodeEvents } from '../observability/nodeEvents.js';
import type { LifecycleAction } from './action.js';
import type { ActionMessage, ActionRegistry } from './actionRegistry.js';
import { ActionSteps, type StepDeps } from './actionSteps.js';
import { foreignMessageDelaySeconds } from './clusterScope.js';
import { ActionGoneError, describeError, isActionGone, isTransient } from './errors.js';
import { keepActionAlive } from './heartbeat.js';
import { excerpt, parseLifecycleMessage } from './message.js';
import { keepOwnership } from './ownership.js';
import type { ActionPhase, ActionRecord, ActionStore, ClusterScope, EventRecorder, NodeEvent, NodeInfo, QueueMessage } from './ports.js';
import { signalUntil, withTimeout } from './sleep.js';
import { actionDeadlineMs, verifyAction } from './verification.js';

export interface WorkflowConfig {
  readonly verifyLifecycleState: boolean;
  readonly maxTimeToProcessSeconds: number;
  readonly deregisterOrder: 'before-drain' | 'after-drain';
  /** With a redrive policy, malformed messages are left for the dead-letter queue instead of deleted. */
  readonly queueHasRedrivePolicy: boolean;
  /** Visibility delay before a message whose verification hit a transient error is received again. */
  readonly retryLaterSeconds: number;
}

export interface WorkflowDeps extends StepDeps {
  readonly config: WorkflowConfig;
  readonly events: EventRecorder;
  readonly log: Logger;
  readonly registry: ActionRegistry;
  /** Durable ownership of actions across replicas and restarts; undefined runs without (unit tests). */
  readonly store: ActionStore | undefined;
  readonly scope: ClusterScope;
  /** Aborted on SIGTERM: actions stop at a safe point and hand their messages and ownership back. */
  readonly shutdown: AbortSignal;
}

type Settle = (messages: ActionMessage[]) => Promise<void>;
type Outcome = 'done' | 'shutdown' | 'lost';

/**
 * One action's journey, top-down: parse the SQS message → admit it (a duplicate joins the action in flight) →
 * check it belongs to this cluster → verify with AWS that the instance really is in Terminating:Wait → claim
 * ownership → heartbeat → find the node → deregister and drain (order: --deregister-order) → delete the Node →
 * CompleteLifecycleAction → release ownership → delete the message(s).
 */
export class LifecycleWorkflow {
  private readonly steps: ActionSteps;

  constructor(private readonly deps: WorkflowDeps) {
    this.steps = new ActionSteps(deps);
  }

  readonly handleMessage = async (message: QueueMessage, lease: ActionMessage): Promise<void> => {
    const { metrics, log, config } = this.deps;
    const parsed = parseLifecycleMessage(message.body);
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
      if (config.queueHasRedrivePolicy) {
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
    await this.run(parsed.action, message.receiveCount, undefined);
  };

  /** Resumes an action whose owner stopped renewing its record (crash, failover, restart). */
  readonly resume = async (record: ActionRecord): Promise<void> => {
    if (this.deps.registry.admit(record.action, undefined).status === 'joined') return;
    await this.run(record.action, 1, record);
  };

  private async run(action: LifecycleAction, receiveCount: number, resumed: ActionRecord | undefined): Promise<void> {
    const { autoScaling, config, metrics, registry, shutdown, store, scope } = this.deps;
    const receivedAtMs = resumed?.receivedAtMs ?? Date.now();
    const log = this.deps.log.child(action.instanceId, { instanceId: action.instanceId, requestId: action.requestId, asg: action.autoScalingGroupName });
    metrics.terminatingInstances.inc();
    let settle: Settle = deleteAll;
    try {
      if (!(await scope.isOurs(action.autoScalingGroupName, shutdown))) {
        log.info(`Auto Scaling group ${action.autoScalingGroupName} is not tagged for cluster ${scope.clusterName}; leaving the message for that cluster`);
        metrics.recordMessage('released', 'other_cluster');
        settle = releaseAll(foreignMessageDelaySeconds(receiveCount));
        return;
      }
      const verdict = await verifyAction(action, autoScaling, { checkInstanceState: config.verifyLifecycleState, nowMs: Date.now() }, shutdown);
      if (verdict.kind === 'drop') {
        log.warn(`event ${action.requestId} has been rejected for processing: ${verdict.detail}`);
        metrics.recordMessage('deleted', verdict.reason);
        if (resumed) await store?.release(action, shutdown);
        return;
      }
      if (verdict.kind === 'retry-later') throw new Error(verdict.detail);
      const deadlineMs = resumed?.deadlineMs ?? actionDeadlineMs(action, verdict.hook, receivedAtMs, config.maxTimeToProcessSeconds);
      const claim = store
        ? await store.claim({ action, phase: 'verified', receivedAtMs, deadlineMs, heartbeatTimeoutSeconds: verdict.hook.heartbeatTimeoutSeconds }, shutdown)
        : { status: 'claimed' as const, resumedFrom: undefined, previousHolder: undefined };
      if (claim.status === 'held-elsewhere') {
        log.info(`event ${action.requestId} is being processed by ${claim.holder}; leaving this copy of the message to it`);
        metrics.recordMessage('duplicate', 'owned_by_other_replica');
        settle = releaseAll(Math.max(30, 2 * (store?.leaseDurationSeconds ?? 15)));
        return;
      }
      if (claim.resumedFrom) log.info(`resuming event ${action.requestId} from phase ${claim.resumedFrom}${claim.previousHolder ? ` (previously held by ${claim.previousHolder})` : ''}`);
      else log.info('received termination event');
      const outcome = await this.process(action, verdict.hook.heartbeatTimeoutSeconds, deadlineMs, receivedAtMs, claim.resumedFrom, log);
      if (outcome === 'shutdown') {
        settle = releaseAll(0);
        await withTimeout([], SETTLE_TIMEOUT_MS, (signal) => store?.handOver(action, signal) ?? Promise.resolve()).catch(() => undefined);
      } else if (outcome === 'lost') {
        settle = releaseAll(Math.max(30, 2 * (store?.leaseDurationSeconds ?? 15)));
      } else {
        await withTimeout([], SETTLE_TIMEOUT_MS, (signal) => store?.release(action, signal) ?? Promise.resolve());
      }
    } catch (e) {
      if (shutdown.aborted) {
        settle = releaseAll(0);
      } else {
        // AWS or the apiserver unavailable, throttled or refusing: the message comes back for another try (and
        // reaches the dead-letter queue after the queue's maxReceiveCount, when it has one).
        const line = `could not start event ${action.requestId} (${describeError(e)}); its message will be retried in ${config.retryLaterSeconds}s`;
        if (isTransient(e)) log.warn(line);
        else log.error(line);
        metrics.recordMessage('left_for_redelivery', 'aws_or_kubernetes_unavailable');
        settle = releaseAll(config.retryLaterSeconds);
      }
    } finally {
      metrics.terminatingInstances.dec();
      await registry.finish(action, settle).catch((e: unknown) => log.error(`failed to settle messages: ${describeError(e)}`));
    }
  }

  /** Runs a claimed action to CONTINUE (or ABANDON). */
  private async process(action: LifecycleAction, heartbeatTimeoutSeconds: number, deadlineMs: number, receivedAtMs: number, resumedFrom: ActionPhase | undefined, log: Logger): Promise<Outcome> {
    const { metrics, shutdown, store } = this.deps;
    const gone = new AbortController();
    const lost = new AbortController();
    const finished = new AbortController();
    const { signal, dispose } = signalUntil(deadlineMs, shutdown, gone.signal, lost.signal, finished.signal);
    let phase: ActionPhase = 'verified';
    const background = [
      keepActionAlive({
        action, intervalMs: (heartbeatTimeoutSeconds * 1000) / 2, autoScaling: this.deps.autoScaling, log, signal,
        onGone: () => gone.abort(new ActionGoneError(action.instanceId)), onBeat: (result) => metrics.heartbeats.inc({ result }),
      }),
      store ? keepOwnership({ action, store, heartbeatTimeoutSeconds, currentPhase: () => phase, log, signal, onLost: () => lost.abort() }) : Promise.resolve(),
    ];
    let node: NodeInfo | undefined;
    const publish = (event: NodeEvent): void => { if (node) this.deps.events.publish(node, event); };
    try {
      phase = 'awaiting-node';
      // Resumed after the drain, the Node may already be deleted: do not wait for it to register again.
      const drained = resumedFrom === 'deleting-node' || resumedFrom === 'completing';
      node = drained ? this.deps.nodes.findByInstanceId(action.instanceId) : await this.steps.awaitNode(action, log, signal);
      publish(NodeEvents.lifecycleHookReceived(action.requestId, action.instanceId, action.autoScalingGroupName));
      if (node && !drained) await this.steps.cordon(node, log, signal);
      if (this.deps.config.deregisterOrder === 'before-drain') {
        phase = 'deregistering';
        await this.steps.deregister(action, node, log, signal);
      }
      phase = 'draining';
      if (node) await this.steps.drain(node, log, publish, signal);
      if (this.deps.config.deregisterOrder === 'after-drain') {
        phase = 'deregistering';
        await this.steps.deregister(action, node, log, signal);
      }
      phase = 'deleting-node';
      if (node) await this.steps.deleteNode(node, log, publish, signal);
      phase = 'completing';
      // Make sure no other replica took the action over before completing it. A failure to ask is no reason to
      // stop: at worst two replicas complete it and AWS rejects the second.
      const ownership = await store?.renew(action, phase, signal).catch((e: unknown) => {
        log.warn(`could not confirm ownership before completing (${describeError(e)}); completing anyway`);
        return 'renewed' as const;
      });
      if (ownership === 'lost' || lost.signal.aborted) return 'lost';
      await this.steps.complete(action, 'CONTINUE', log, signal);
      const seconds = (Date.now() - receivedAtMs) / 1000;
      metrics.recordEventFinished('CONTINUE', seconds);
      metrics.recordMessage('processed', 'continue');
      metrics.deadlineMarginSeconds.observe(Math.max(0, (deadlineMs - Date.now()) / 1000));
      publish(NodeEvents.lifecycleHookProcessed(action.requestId, action.instanceId, seconds));
      log.info(`event ${action.requestId} for instance ${action.instanceId} completed after ${seconds.toFixed(2)}s`);
      return 'done';
    } catch (e) {
      if (shutdown.aborted) {
        log.warn(`shutting down: event ${action.requestId} stopped in phase ${phase} before completion; its message is returned to the queue`);
        return 'shutdown';
      }
      if (lost.signal.aborted) return 'lost';
      if (gone.signal.aborted || isActionGone(e)) {
        log.warn(`event ${action.requestId}: AWS no longer has an active lifecycle action for ${action.instanceId} (completed elsewhere or expired); stopping`);
        metrics.recordEventFinished('dropped', (Date.now() - receivedAtMs) / 1000);
        metrics.recordMessage('processed', 'action_gone');
        return 'done';
      }
      const cause = signal.aborted ? `deadline reached before completion (${describeError(e)})` : describeError(e);
      const seconds = (Date.now() - receivedAtMs) / 1000;
      log.error(`event ${action.requestId} has failed processing after ${seconds.toFixed(2)}s: ${cause}`);
      publish(NodeEvents.lifecycleHookFailed(action.requestId, seconds, cause));
      log.warn(`abandoning instance ${action.instanceId}`);
      await withTimeout([shutdown], 60_000, (s) => this.steps.complete(action, 'ABANDON', log, s)).catch((err: unknown) =>
        log.error(`completeLifecycleAction Failed, ${describeError(err)}`));
      metrics.recordEventFinished('ABANDON', seconds);
      metrics.recordMessage('processed', 'abandon');
      return 'done';
    } finally {
      finished.abort();
      await Promise.all(background.map((p) => p.catch((e: unknown) => log.error(`background loop failed: ${describeError(e)}`))));
      dispose();
    }
  }

  private async dropMessage(lease: ActionMessage, reason: string): Promise<void> {
    this.deps.metrics.recordMessage('deleted', reason);
    await withTimeout([], SETTLE_TIMEOUT_MS, (signal) => lease.delete(signal));
  }
}

const SETTLE_TIMEOUT_MS = 15_000;

async function deleteAll(messages: ActionMessage[]): Promise<void> {
  await Promise.all(messages.map((m) => withTimeout([], SETTLE_TIMEOUT_MS, (signal) => m.delete(signal))));
}

function releaseAll(delaySeconds: number): Settle {
  return async (messages) => {
    await Promise.all(messages.map((m) => withTimeout([], SETTLE_TIMEOUT_MS, (signal) => m.release(delaySeconds, signal))));
  };
}
