import type * as k8s from '@kubernetes/client-node';
import { abortReason } from '../lifecycle/sleep.js';
import type { NodeDirectory, NodeInfo } from '../lifecycle/ports.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { KubeClients } from './apiClients.js';
import { toDomainError } from './errors.js';
import { toNodeInfo } from './nodeInfo.js';
import { type WatchHealth, type WatchTimings, WatchedCollection } from './watchedCollection.js';

/**
 * A watch-backed index of Nodes by EC2 instance id: locating the node for an event costs no API call. Only the few
 * fields the drain needs are kept per Node (not the whole object, whose status alone can be tens of kilobytes), so
 * memory stays small in clusters of thousands of nodes.
 */
export class WatchedNodeDirectory implements NodeDirectory {
  private readonly byInstance = new Map<string, NodeInfo>();
  private readonly waiters = new Map<string, Set<(node: NodeInfo) => void>>();
  private readonly nodes: WatchedCollection<k8s.V1Node, NodeInfo>;

  /** `keptLabels`: the label keys the service sets with the cordon, kept so that a cordon already done is not repeated. */
  constructor(private readonly clients: KubeClients, log: Logger, metrics: Metrics, timings: WatchTimings = { watchTimeoutSeconds: 300 }, keptLabels: readonly string[] = []) {
    this.nodes = new WatchedCollection(clients, {
      noun: 'node', resource: 'nodes', watchPath: '/api/v1/nodes',
      list: (page, o) => clients.core.listNode(page, o),
      toInfo: (node) => toNodeInfo(node, keptLabels),
    }, {
      upsert: (_name, info, previous) => this.indexed(info, previous),
      remove: (name, info) => { if (this.byInstance.get(info.instanceId)?.name === name) this.byInstance.delete(info.instanceId); },
    }, log, metrics, timings);
  }

  get isSynced(): boolean {
    return this.nodes.isSynced;
  }

  health(nowMs = Date.now()): WatchHealth {
    return this.nodes.health(nowMs);
  }

  start(): Promise<void> {
    return this.nodes.start();
  }

  stop(): Promise<void> {
    return this.nodes.stop();
  }

  findByInstanceId(instanceId: string): NodeInfo | undefined {
    return this.byInstance.get(instanceId);
  }

  async readFresh(instanceId: string, signal: AbortSignal): Promise<NodeInfo | undefined> {
    try {
      return await this.nodes.findFresh('list nodes', (n) => n.instanceId === instanceId, signal);
    } catch (e) {
      throw toDomainError(e, 'list nodes', this.clients.authorizerWarmup);
    }
  }

  waitForInstance(instanceId: string, signal: AbortSignal, accept: (node: NodeInfo) => boolean = () => true): Promise<NodeInfo> {
    const known = this.byInstance.get(instanceId);
    if (known && accept(known)) return Promise.resolve(known);
    if (signal.aborted) return Promise.reject(abortReason(signal));
    return new Promise((resolve, reject) => {
      const set = this.waiters.get(instanceId) ?? new Set();
      this.waiters.set(instanceId, set);
      const forget = (): void => {
        set.delete(waiter);
        if (set.size === 0 && this.waiters.get(instanceId) === set) this.waiters.delete(instanceId);
      };
      const onAbort = (): void => {
        forget();
        reject(abortReason(signal));
      };
      const waiter = (node: NodeInfo): void => {
        if (!accept(node)) return;
        forget();
        signal.removeEventListener('abort', onAbort);
        resolve(node);
      };
      set.add(waiter);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** A Node (re)indexed: a Node whose instance id changed leaves its old entry. */
  private indexed(info: NodeInfo, previous: NodeInfo | undefined): void {
    if (previous && previous.instanceId !== info.instanceId && this.byInstance.get(previous.instanceId)?.name === info.name) this.byInstance.delete(previous.instanceId);
    this.byInstance.set(info.instanceId, info);
    // Each waiter takes the Node or keeps waiting (one waiting for it to be Ready); those done leave the set.
    const waiting = this.waiters.get(info.instanceId);
    if (waiting) for (const notify of [...waiting]) notify(info);
  }
}
