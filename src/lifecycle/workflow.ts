import type { NodeDrainer } from '../drain/drainer.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { NodeEvents } from '../observability/nodeEvents.js';
import type { LifecycleAction, LifecycleActionResult } from './action.js';
import type { ActionMessage, ActionRegistry } from './actionRegistry.js';
import { ActionGoneError, describeError, isActionGone } from './errors.js';
import { keepActionAlive } from './heartbeat.js';
import { excerpt, parseLifecycleMessage } from './message.js';
import type { AutoScalingPort, ClusterPort, EventRecorder, LoadBalancerDeregistrar, NodeDirectory, NodeEvent, NodeInfo, QueueMessage } from './ports.js';
import { retryUntil } from './retryUntil.js';
import type { Semaphore } from './semaphore.js';
import { linkedSignal, signalUntil, withTimeout } from './sleep.js';
import { actionDeadlineMs, verifyAction } from './verification.js';

export interface WorkflowConfig {
  readonly verifyLifecycleState: boolean;
  readonly maxTimeToProcessSeconds: number;
  readonly withDeregister: boolean;
  readonly deregisterOrder: 'before-drain' | 'after-drain';
  /** How long a hook for an instance without a Node waits, heartbeating, for the Node to register. */
  readonly nodeJoinTimeoutSeconds: number;
  /** With a redrive policy, malformed messages are left for the dead-letter queue instead of deleted. */
  readonly queueHasRedrivePolicy: boolean;
  /** Visibility delay before a message whose verification hit a transient error is received again. */
  readonly retryLaterSeconds: number;
}

export interface WorkflowDeps {
  readonly config: WorkflowConfig;
  readonly autoScaling: AutoScalingPort;
  readonly nodes: NodeDirectory;
  readonly cluster: ClusterPort;
  readonly drainer: NodeDrainer;
  readonly deregistrar: LoadBalancerDeregistrar | undefined;
  readonly events: EventRecorder;
  readonly metrics: Metrics;
  readonly log: Logger;
  readonly drainSlots: Semaphore;
  readonly registry: ActionRegistry;
  /** Aborted on SIGTERM: actions stop at a safe point and hand their messages back to the queue. */
  readonly shutdown: AbortSignal;
}

export type Phase = 'received' | 'verified' | 'awaiting-node' | 'draining' | 'deregistering' | 'deleting-node' | 'completing' | 'done' | 'failed';

/**
 * One SQS message's journey, top-down: parse → admit → verify → heartbeat → find the node → drain and deregister
 * (order set by --deregister-order) → delete the Node → CompleteLifecycleAction → delete the message.
 */
export class LifecycleWorkflow {
  constructor(private readonly deps: WorkflowDeps) {}

  readonly handleMessage = async (message: QueueMessage, lease: ActionMessage & { close(): void }): Promise<void> => {
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
    await this.run(parsed.action, message);
  };

  private async run(action: LifecycleAction, message: QueueMessage): Promise<void> {
    const { autoScaling, config, metrics, registry, shutdown } = this.deps;
    const receivedAtMs = Date.now();
    const log = this.deps.log.child(action.instanceId, { instanceId: action.instanceId, requestId: action.requestId, asg: action.autoScalingGroupName });
    metrics.terminatingInstances.inc();
    let settle: (messages: ActionMessage[]) => Promise<void> = deleteAll;
    try {
      const verdict = await verifyAction(action, autoScaling, { checkInstanceState: config.verifyLifecycleState, nowMs: receivedAtMs }, shutdown);
      if (verdict.kind === 'drop') {
        log.warn(`event ${action.requestId} has been rejected for processing: ${verdict.detail}`);
        metrics.recordMessage('deleted', verdict.reason);
        return;
      }
      if (verdict.kind === 'retry-later') {
        log.warn(`could not verify event ${action.requestId} (${verdict.detail}); message will be retried in ${config.retryLaterSeconds}s`);
        metrics.recordMessage('left_for_redelivery', 'verification_unavailable');
        settle = releaseAll(config.retryLaterSeconds);
        return;
      }
      log.info('received termination event', { messageId: message.messageId, receiveCount: message.receiveCount });
      const deadlineMs = actionDeadlineMs(action, verdict.hook, receivedAtMs, config.maxTimeToProcessSeconds);
      const result = await this.process(action, verdict.hook.heartbeatTimeoutSeconds, deadlineMs, receivedAtMs, log);
      if (result === 'shutdown') settle = releaseAll(0);
    } finally {
      metrics.terminatingInstances.dec();
      await registry.finish(action, settle).catch((e: unknown) => log.error(`failed to settle messages: ${describeError(e)}`));
    }
  }

  /** Runs the action to CONTINUE (or ABANDON); 'shutdown' when SIGTERM interrupted it before completion. */
  private async process(action: LifecycleAction, heartbeatTimeoutSeconds: number, deadlineMs: number, receivedAtMs: number, log: Logger): Promise<'done' | 'shutdown'> {
    const { metrics, shutdown } = this.deps;
    const gone = new AbortController();
    const finished = new AbortController();
    const { signal, dispose } = signalUntil(deadlineMs, shutdown, gone.signal, finished.signal);
    const heartbeat = keepActionAlive({
      action, intervalMs: (heartbeatTimeoutSeconds * 1000) / 2, autoScaling: this.deps.autoScaling, log, signal,
      onGone: () => gone.abort(new ActionGoneError(action.instanceId)),
      onBeat: (result) => metrics.heartbeats.inc({ result }),
    });
    let node: NodeInfo | undefined;
    const publish = (event: NodeEvent): void => { if (node) this.deps.events.publish(node, event); };
    try {
      node = await this.phase('await_node', () => this.awaitNode(action, log, signal));
      publish(NodeEvents.lifecycleHookReceived(action.requestId, action.instanceId, action.autoScalingGroupName));
      if (this.deps.config.deregisterOrder === 'before-drain') await this.deregister(action, node, log, signal);
      if (node) await this.drain(node, log, publish, signal);
      if (this.deps.config.deregisterOrder === 'after-drain') await this.deregister(action, node, log, signal);
      if (node) await this.deleteNode(node, log, publish, signal);
      await this.complete(action, 'CONTINUE', log, signal);
      const seconds = (Date.now() - receivedAtMs) / 1000;
      metrics.recordEventFinished('CONTINUE', seconds);
      metrics.deadlineMarginSeconds.observe(Math.max(0, (deadlineMs - Date.now()) / 1000));
      publish(NodeEvents.lifecycleHookProcessed(action.requestId, action.instanceId, seconds));
      log.info(`event ${action.requestId} for instance ${action.instanceId} completed after ${seconds.toFixed(2)}s`);
      return 'done';
    } catch (e) {
      if (shutdown.aborted) {
        log.warn(`shutting down: event ${action.requestId} stopped before completion; its message is returned to the queue`);
        return 'shutdown';
      }
      if (gone.signal.aborted || isActionGone(e)) {
        log.warn(`event ${action.requestId}: AWS no longer has an active lifecycle action for ${action.instanceId} (completed elsewhere or expired); stopping`);
        metrics.recordEventFinished('dropped', (Date.now() - receivedAtMs) / 1000);
        return 'done';
      }
      const cause = signal.aborted && !gone.signal.aborted ? `deadline reached before completion (${describeError(e)})` : describeError(e);
      const seconds = (Date.now() - receivedAtMs) / 1000;
      log.error(`event ${action.requestId} has failed processing after ${seconds.toFixed(2)}s: ${cause}`);
      publish(NodeEvents.lifecycleHookFailed(action.requestId, seconds, cause));
      log.warn(`abandoning instance ${action.instanceId}`);
      await withTimeout([shutdown], 60_000, (abandonSignal) => this.complete(action, 'ABANDON', log, abandonSignal)).catch((err: unknown) =>
        log.error(`completeLifecycleAction Failed, ${describeError(err)}`));
      metrics.recordEventFinished('ABANDON', seconds);
      return 'done';
    } finally {
      finished.abort();
      await heartbeat.catch((e: unknown) => log.error(`heartbeat loop failed: ${describeError(e)}`));
      dispose();
    }
  }

  /** The Node for the instance, waiting up to --node-join-timeout for one that has not registered yet. */
  private async awaitNode(action: LifecycleAction, log: Logger, signal: AbortSignal): Promise<NodeInfo | undefined> {
    const known = this.deps.nodes.findByInstanceId(action.instanceId);
    if (known) return known;
    const waitSeconds = this.deps.config.nodeJoinTimeoutSeconds;
    log.info(`instance ${action.instanceId} has no Node yet; waiting up to ${waitSeconds}s for it to register`);
    const { signal: window, dispose } = linkedSignal([signal], waitSeconds * 1000);
    try {
      const node = await this.deps.nodes.waitForInstance(action.instanceId, window);
      log.info(`node ${node.name} registered for instance ${action.instanceId}; draining it`);
      return node;
    } catch (e) {
      if (signal.aborted) throw e;
      log.warn(`instance ${action.instanceId} never registered as a Node within ${waitSeconds}s; nothing to drain`);
      return undefined;
    } finally {
      dispose();
    }
  }

  private async drain(node: NodeInfo, log: Logger, publish: (e: NodeEvent) => void, signal: AbortSignal): Promise<void> {
    const { metrics, drainSlots } = this.deps;
    await drainSlots.with(signal, () => this.phase('drain', async () => {
      log.debug('acquired drain semaphore');
      metrics.drainingInstances.inc();
      try {
        const result = await this.deps.drainer.drain(node, log, {
          event: publish,
          eviction: (outcome) => metrics.evictions.inc({ outcome }),
          drainFailed: () => metrics.failedNodeDrains.inc(),
        }, signal);
        if (result.outcome === 'failed') throw new Error(`failed to drain node: ${result.reason}`);
        metrics.successfulNodeDrains.inc();
        publish(NodeEvents.nodeDrainSucceeded(node.name));
        log.info(`completed drain for node/${node.name}`);
      } finally {
        metrics.drainingInstances.dec();
        log.debug('released drain semaphore');
      }
    }));
  }

  private async deregister(action: LifecycleAction, node: NodeInfo | undefined, log: Logger, signal: AbortSignal): Promise<void> {
    const { deregistrar, config, metrics } = this.deps;
    if (!config.withDeregister || !deregistrar) return;
    await this.phase('deregister', async () => {
      log.info('starting load balancer drain worker');
      metrics.deregisteringInstances.inc();
      try {
        const podIps = node ? (await this.deps.cluster.listPodsOnNode(node.name, signal)).flatMap((p) => p.podIps) : [];
        await deregistrar.deregister({ instanceId: action.instanceId, autoScalingGroupName: action.autoScalingGroupName, node, podIps, log }, signal);
      } finally {
        metrics.deregisteringInstances.dec();
      }
    });
  }

  private async deleteNode(node: NodeInfo, log: Logger, publish: (e: NodeEvent) => void, signal: AbortSignal): Promise<void> {
    const { metrics } = this.deps;
    await this.phase('delete_node', async () => {
      log.info(`deleting node/${node.name}`);
      try {
        await retryUntil(() => this.deps.cluster.deleteNode(node.name, signal), signal);
      } catch (e) {
        if (signal.aborted) throw e;
        metrics.failedNodeDeletes.inc();
        publish(NodeEvents.nodeDeleteFailed(node.name, describeError(e)));
        throw new Error(`failed to delete the node: ${describeError(e)}`, { cause: e });
      }
      metrics.successfulNodeDeletes.inc();
      publish(NodeEvents.nodeDeleteSucceeded(node.name));
      log.info(`completed node deletion/${node.name}`);
    });
  }

  private async complete(action: LifecycleAction, result: LifecycleActionResult, log: Logger, signal: AbortSignal): Promise<void> {
    await this.phase('complete', async () => {
      log.info(`setting lifecycle event as completed with result: ${result}`);
      const status = await retryUntil(() => this.deps.autoScaling.completeAction(action, result, signal), signal);
      this.deps.metrics.lifecycleActionsCompleted.inc({ result, status });
      if (status === 'gone') log.warn(`AWS had no active lifecycle action for ${action.instanceId} any more; treating it as done`);
    });
  }

  private async phase<T>(name: string, work: () => Promise<T>): Promise<T> {
    const end = this.deps.metrics.phaseDuration.startTimer({ phase: name });
    try {
      return await work();
    } finally {
      end();
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

function releaseAll(delaySeconds: number): (messages: ActionMessage[]) => Promise<void> {
  return async (messages) => {
    await Promise.all(messages.map((m) => withTimeout([], SETTLE_TIMEOUT_MS, (signal) => m.release(delaySeconds, signal))));
  };
}
