import type { NodeDrainer } from '../drain/drainer.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { NodeEvents } from '../observability/nodeEvents.js';
import type { LifecycleAction, LifecycleActionResult } from './action.js';
import { describeError } from './errors.js';
import type { AutoScalingPort, ClusterPort, LoadBalancerDeregistrar, NodeDirectory, NodeEvent, NodeInfo } from './ports.js';
import { retryUntil } from './retryUntil.js';
import type { Semaphore } from './semaphore.js';
import { linkedSignal } from './sleep.js';

export interface StepDeps {
  readonly autoScaling: AutoScalingPort;
  readonly nodes: NodeDirectory;
  readonly cluster: ClusterPort;
  readonly drainer: NodeDrainer;
  readonly deregistrar: LoadBalancerDeregistrar | undefined;
  readonly metrics: Metrics;
  readonly drainSlots: Semaphore;
  readonly withDeregister: boolean;
  readonly nodeJoinTimeoutSeconds: number;
  /** Labels set together with the cordon: the exclude-from-load-balancer labels when --with-deregister. */
  readonly nodeLabels: Readonly<Record<string, string>>;
}

/**
 * The steps of an action, each idempotent so that a resumed action can simply run them again: find the node,
 * drain it, deregister it from load balancers, delete the Node, complete the lifecycle action. Each records its
 * duration in `lifecycle_manager_phase_duration_seconds`.
 */
export class ActionSteps {
  constructor(private readonly deps: StepDeps) {}

  /** The Node for the instance, waiting up to --node-join-timeout for one that has not registered yet. */
  async awaitNode(action: LifecycleAction, log: Logger, signal: AbortSignal): Promise<NodeInfo | undefined> {
    return this.phase('await_node', async () => {
      const known = this.deps.nodes.findByInstanceId(action.instanceId);
      if (known) return known;
      const waitSeconds = this.deps.nodeJoinTimeoutSeconds;
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
    });
  }

  /**
   * Cordons the node and sets the exclusion labels at once, before deregistration and before waiting for a drain
   * slot: nothing new is scheduled there and no controller re-adds it to a load balancer meanwhile. Idempotent.
   */
  async cordon(node: NodeInfo, log: Logger, signal: AbortSignal): Promise<void> {
    const result = await retryUntil(() => this.deps.cluster.cordon(node.name, this.deps.nodeLabels, signal), signal);
    log.info(result === 'gone' ? `node/${node.name} no longer exists` : `cordoned node/${node.name}${Object.keys(this.deps.nodeLabels).length > 0 ? ' and labelled it to be excluded from load balancers' : ''}`);
  }

  /** Drains within a --max-drain-concurrency slot; throws when the drain (and its escalation) failed. */
  async drain(node: NodeInfo, log: Logger, publish: (e: NodeEvent) => void, signal: AbortSignal): Promise<void> {
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

  async deregister(action: LifecycleAction, node: NodeInfo | undefined, log: Logger, signal: AbortSignal): Promise<void> {
    const { deregistrar, metrics } = this.deps;
    if (!this.deps.withDeregister || !deregistrar) return;
    await this.phase('deregister', async () => {
      log.info('starting load balancer drain worker');
      metrics.deregisteringInstances.inc();
      try {
        const pods = node ? await retryUntil(() => this.deps.cluster.listPodsOnNode(node.name, signal), signal) : [];
        await deregistrar.deregister({ instanceId: action.instanceId, autoScalingGroupName: action.autoScalingGroupName, node, podIps: pods.flatMap((p) => p.podIps), log }, signal);
      } finally {
        metrics.deregisteringInstances.dec();
      }
    });
  }

  async deleteNode(node: NodeInfo, log: Logger, publish: (e: NodeEvent) => void, signal: AbortSignal): Promise<void> {
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

  /** CompleteLifecycleAction; AWS answering "No active Lifecycle Action" counts as done (completed elsewhere). */
  async complete(action: LifecycleAction, result: LifecycleActionResult, log: Logger, signal: AbortSignal): Promise<void> {
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
}
