import type * as k8s from '@kubernetes/client-node';
import type { PodInfo } from '../lifecycle/ports.js';
import { untilAborted } from '../lifecycle/sleep.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { KubeClients } from './apiClients.js';
import { type WatchTimings, WatchedCollection } from './watchedCollection.js';

/** The pods bound to one node, from a LIST and a watch (both `fieldSelector=spec.nodeName=<node>`). */
export interface NodePodWatch {
  /** The LIST; the watch then runs until stop(). Rejects as the LIST failed. */
  start(): Promise<void>;
  stop(): Promise<void>;
  /** The watch may answer a read now (see WatchedCollection.isCurrent). */
  isCurrent(): boolean;
  pods(): PodInfo[];
}

interface Held {
  /** The signals of the actions holding the watch; it stops when the last one aborts. */
  readonly holders: Set<AbortSignal>;
  watch: NodePodWatch | undefined;
  starting: Promise<NodePodWatch> | undefined;
}

/**
 * The pods of the nodes being worked on, each node's from one watch for as long as an action holds it
 * (`hold(node, until)`): the first read of a held node LISTs its pods and starts a watch from that list, later reads
 * answer from the watch with no API call while it is current (connected and heard from, see
 * WatchedCollection.isCurrent) and are `undefined` otherwise, so that the caller LISTs instead. A read of a node nobody
 * holds is `undefined` too. The watch stops when the last action holding it ends, and every watch at close().
 */
export class PodsOnNodes {
  private readonly held = new Map<string, Held>();
  private closed = false;

  constructor(private readonly open: (nodeName: string) => NodePodWatch, private readonly log: Logger) {}

  /** Keeps `nodeName`'s pods watched until `until` aborts (the action that works on the node ends). Idempotent. */
  hold(nodeName: string, until: AbortSignal): void {
    if (this.closed || until.aborted) return;
    const entry = this.held.get(nodeName) ?? { holders: new Set<AbortSignal>(), watch: undefined, starting: undefined };
    this.held.set(nodeName, entry);
    if (entry.holders.has(until)) return;
    entry.holders.add(until);
    until.addEventListener('abort', () => this.release(nodeName, until), { once: true });
  }

  /** How many nodes are held (tests, diagnostics). */
  get heldNodes(): number {
    return this.held.size;
  }

  /** The node's pods from its watch; undefined when the read must go to the apiserver. Throws as the first LIST failed. */
  async read(nodeName: string, signal: AbortSignal): Promise<PodInfo[] | undefined> {
    const entry = this.held.get(nodeName);
    if (!entry) return undefined;
    if (entry.watch) return entry.watch.isCurrent() ? entry.watch.pods() : undefined;
    entry.starting ??= this.start(nodeName, entry);
    const watch = await untilAborted(entry.starting, signal);
    return watch.isCurrent() ? watch.pods() : undefined;
  }

  /** Stops every watch (shutdown); later reads are answered by the apiserver. */
  async close(): Promise<void> {
    this.closed = true;
    const entries = [...this.held.values()];
    this.held.clear();
    await Promise.all(entries.map((e) => e.watch?.stop().catch(() => undefined)));
  }

  private async start(nodeName: string, entry: Held): Promise<NodePodWatch> {
    const watch = this.open(nodeName);
    try {
      await watch.start();
    } catch (e) {
      // The next read tries again.
      entry.starting = undefined;
      throw e;
    }
    if (this.held.get(nodeName) !== entry) {
      // Released (or closed) while its LIST ran: nothing keeps it.
      void watch.stop().catch(() => undefined);
    } else {
      entry.watch = watch;
      this.log.debug(`watching the pods of node ${nodeName}`);
    }
    return watch;
  }

  private release(nodeName: string, until: AbortSignal): void {
    const entry = this.held.get(nodeName);
    if (!entry?.holders.delete(until) || entry.holders.size > 0) return;
    this.held.delete(nodeName);
    if (entry.watch) {
      this.log.debug(`no longer watching the pods of node ${nodeName}`);
      void entry.watch.stop().catch(() => undefined);
    }
  }
}

/** A NodePodWatch on the apiserver: a WatchedCollection of the node's pods, keyed namespace/name. */
export function watchPodsOfNode(clients: KubeClients, nodeName: string, toInfo: (pod: k8s.V1Pod) => PodInfo, log: Logger, metrics: Metrics, timings: WatchTimings): NodePodWatch {
  const fieldSelector = `spec.nodeName=${nodeName}`;
  const pods = new WatchedCollection<k8s.V1Pod, PodInfo>(clients, {
    noun: `node ${nodeName} pod`, resource: 'pods', watchPath: '/api/v1/pods', watchQuery: { fieldSelector },
    list: (page, o) => clients.core.listPodForAllNamespaces({ ...page, fieldSelector }, o),
    keyOf: (pod) => (pod.metadata?.name ? `${pod.metadata.namespace ?? ''}/${pod.metadata.name}` : undefined),
    toInfo,
  }, undefined, log, metrics, timings);
  return {
    start: () => pods.start(),
    stop: () => pods.stop(),
    isCurrent: () => pods.isCurrent(),
    pods: () => [...pods.values()],
  };
}
