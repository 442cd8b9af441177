import * as k8s from '@kubernetes/client-node';
import { abortReason } from '../lifecycle/sleep.js';
import type { NodeDirectory, NodeInfo } from '../lifecycle/ports.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { KubeClients } from './apiClients.js';

/** `aws:///us-west-2a/i-0123` → `i-0123` (the last `/`-separated segment, as upstream matches). */
export function instanceIdFromProviderId(providerId: string | undefined): string | undefined {
  if (!providerId?.startsWith('aws://')) return undefined;
  const last = providerId.split('/').pop();
  return last && /^i-[0-9a-f]+$/u.test(last) ? last : undefined;
}

export function toNodeInfo(node: k8s.V1Node): NodeInfo | undefined {
  const instanceId = instanceIdFromProviderId(node.spec?.providerID);
  if (!instanceId || !node.metadata?.name) return undefined;
  const ready = node.status?.conditions?.find((c) => c.type === 'Ready')?.status ?? 'Unknown';
  return {
    name: node.metadata.name,
    uid: node.metadata.uid ?? '',
    instanceId,
    ready,
    privateIps: (node.status?.addresses ?? []).filter((a) => a.type === 'InternalIP').map((a) => a.address),
    unschedulable: node.spec?.unschedulable === true,
    creationTimestamp: node.metadata.creationTimestamp ? new Date(node.metadata.creationTimestamp) : undefined,
  };
}

/**
 * A watch-backed index of Nodes by EC2 instance id. One LIST at start (and after a watch expires), then a watch:
 * locating the node for an event costs no API call. The informer does not restart itself after an error, so this
 * restarts it with a capped backoff.
 */
export class WatchedNodeDirectory implements NodeDirectory {
  private readonly byInstance = new Map<string, NodeInfo>();
  private readonly waiters = new Map<string, Set<(node: NodeInfo) => void>>();
  private readonly informer: k8s.Informer<k8s.V1Node> & k8s.ObjectCache<k8s.V1Node>;
  private synced = false;
  private stopped = false;
  private restartDelayMs = 1_000;

  constructor(private readonly clients: KubeClients, private readonly log: Logger, private readonly metrics: Metrics) {
    this.informer = k8s.makeInformer(clients.kubeConfig, '/api/v1/nodes', () => clients.core.listNode());
    this.informer.on('add', (n) => this.upsert(n));
    this.informer.on('update', (n) => this.upsert(n));
    this.informer.on('delete', (n) => this.remove(n));
    this.informer.on('connect', () => {
      this.metrics.kubeCalls.inc({ verb: 'watch', resource: 'nodes' });
      this.restartDelayMs = 1_000;
    });
    this.informer.on('error', (err) => this.restart(err));
  }

  get isSynced(): boolean {
    return this.synced;
  }

  /** Resolves once the initial list has filled the index. */
  async start(): Promise<void> {
    await this.informer.start();
    this.synced = true;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.informer.stop();
  }

  findByInstanceId(instanceId: string): NodeInfo | undefined {
    return this.byInstance.get(instanceId);
  }

  waitForInstance(instanceId: string, signal: AbortSignal): Promise<NodeInfo> {
    const known = this.byInstance.get(instanceId);
    if (known) return Promise.resolve(known);
    if (signal.aborted) return Promise.reject(abortReason(signal));
    return new Promise((resolve, reject) => {
      const set = this.waiters.get(instanceId) ?? new Set();
      this.waiters.set(instanceId, set);
      const onNode = (node: NodeInfo): void => {
        signal.removeEventListener('abort', onAbort);
        resolve(node);
      };
      const onAbort = (): void => {
        set.delete(onNode);
        if (set.size === 0) this.waiters.delete(instanceId);
        reject(abortReason(signal));
      };
      set.add(onNode);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  private upsert(node: k8s.V1Node): void {
    const info = toNodeInfo(node);
    if (!info) return;
    this.byInstance.set(info.instanceId, info);
    const waiting = this.waiters.get(info.instanceId);
    if (waiting) {
      this.waiters.delete(info.instanceId);
      for (const notify of waiting) notify(info);
    }
  }

  private remove(node: k8s.V1Node): void {
    const info = toNodeInfo(node);
    if (info && this.byInstance.get(info.instanceId)?.name === info.name) this.byInstance.delete(info.instanceId);
  }

  private restart(err: unknown): void {
    if (this.stopped) return;
    const delayMs = this.restartDelayMs;
    this.restartDelayMs = Math.min(30_000, this.restartDelayMs * 2);
    this.log.warn(`node watch failed (${err instanceof Error ? err.message.split('\n')[0] : String(err)}); restarting in ${delayMs / 1000}s`);
    setTimeout(() => {
      if (this.stopped) return;
      this.informer.start().then(() => { this.synced = true; }, (e: unknown) => this.restart(e));
    }, delayMs).unref();
  }
}
