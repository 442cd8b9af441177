import type * as k8s from '@kubernetes/client-node';
import type { VolumeAttachmentDirectory, VolumeAttachmentInfo } from '../lifecycle/ports.js';
import { abortReason } from '../lifecycle/sleep.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { KubeClients } from './apiClients.js';
import { type WatchHealth, type WatchTimings, WatchedCollection } from './watchedCollection.js';

export function toVolumeAttachmentInfo(va: k8s.V1VolumeAttachment): VolumeAttachmentInfo | undefined {
  const name = va.metadata?.name;
  const nodeName = va.spec?.nodeName;
  if (!name || !nodeName) return undefined;
  return { name, nodeName, persistentVolumeName: va.spec?.source?.persistentVolumeName || undefined };
}

/**
 * The cluster's VolumeAttachments by node, from one LIST and a watch (storage.k8s.io/v1): waiting for a drained
 * node's volumes to be detached costs no API call, and a waiter is woken by the watch event that removes the last one.
 */
export class WatchedVolumeAttachments implements VolumeAttachmentDirectory {
  private readonly byNode = new Map<string, Map<string, VolumeAttachmentInfo>>();
  private readonly waiters = new Map<string, Set<() => void>>();
  private readonly attachments: WatchedCollection<k8s.V1VolumeAttachment, VolumeAttachmentInfo>;

  constructor(clients: KubeClients, log: Logger, metrics: Metrics, timings: WatchTimings) {
    this.attachments = new WatchedCollection(clients, {
      noun: 'volume attachment', resource: 'volumeattachments', watchPath: '/apis/storage.k8s.io/v1/volumeattachments',
      list: (page, o) => clients.storage.listVolumeAttachment(page, o),
      toInfo: toVolumeAttachmentInfo,
    }, {
      upsert: (name, info, previous) => {
        if (previous && previous.nodeName !== info.nodeName) this.drop(previous.nodeName, name);
        const onNode = this.byNode.get(info.nodeName) ?? new Map<string, VolumeAttachmentInfo>();
        onNode.set(name, info);
        this.byNode.set(info.nodeName, onNode);
        this.notify(info.nodeName);
      },
      remove: (name, info) => this.drop(info.nodeName, name),
    }, log, metrics, timings);
  }

  get isSynced(): boolean {
    return this.attachments.isSynced;
  }

  health(nowMs = Date.now()): WatchHealth {
    return this.attachments.health(nowMs);
  }

  start(): Promise<void> {
    return this.attachments.start();
  }

  stop(): Promise<void> {
    return this.attachments.stop();
  }

  forNode(nodeName: string): VolumeAttachmentInfo[] {
    return [...(this.byNode.get(nodeName)?.values() ?? [])];
  }

  changed(nodeName: string, signal: AbortSignal): Promise<void> {
    if (signal.aborted) return Promise.reject(abortReason(signal));
    return new Promise((resolve, reject) => {
      const set = this.waiters.get(nodeName) ?? new Set();
      this.waiters.set(nodeName, set);
      const onChange = (): void => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      };
      const onAbort = (): void => {
        set.delete(onChange);
        if (set.size === 0) this.waiters.delete(nodeName);
        reject(abortReason(signal));
      };
      set.add(onChange);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  private drop(nodeName: string, name: string): void {
    const onNode = this.byNode.get(nodeName);
    if (!onNode?.delete(name)) return;
    if (onNode.size === 0) this.byNode.delete(nodeName);
    this.notify(nodeName);
  }

  private notify(nodeName: string): void {
    const waiting = this.waiters.get(nodeName);
    if (!waiting) return;
    this.waiters.delete(nodeName);
    for (const wake of waiting) wake();
  }
}
