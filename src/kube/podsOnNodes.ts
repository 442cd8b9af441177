import type * as k8s from '@kubernetes/client-node';
import type { PodInfo } from '../lifecycle/ports.js';
import { describeError } from '../lifecycle/errors.js';
import { untilAborted } from '../lifecycle/sleep.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { KubeClients } from './apiClients.js';
import { type WatchTimings, WatchedCollection } from './watchedCollection.js';

/** What a LIST of a node's pods answered, and its resourceVersion: where a later watch of them can start. */
export interface NodePodSeed {
  readonly pods: readonly PodInfo[];
  readonly resourceVersion: string;
}

/** The pods bound to one node, from a LIST and a watch (both `fieldSelector=spec.nodeName=<node>`). */
export interface NodePodWatch {
  /**
   * The LIST (none with a seed: the watch starts from its resourceVersion); the watch then runs until stop().
   * Rejects as the LIST failed, or as the seeded watch could not connect.
   */
  start(seed?: NodePodSeed): Promise<void>;
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

/** Seeds kept (the newest; a seed is only worth a LIST, so losing one costs one LIST). */
const MAX_SEEDS = 1_024;
/** A seed older than this is not used: its resourceVersion has likely left the apiserver's watch cache. */
const SEED_TTL_MS = 5 * 60_000;

/**
 * The pods of the nodes being drained, each node's from one watch for as long as an action holds it
 * (`hold(node, until)`): the first read of a held node starts a watch — from the node's last LIST that the caller
 * `remember`ed (a read before the hold, such as the pod IPs for load balancers), or from a LIST of its own — and
 * later reads answer from the watch with no API call while it is current (connected and heard from, see
 * WatchedCollection.isCurrent) and are `undefined` otherwise, so that the caller LISTs instead. A read of a node
 * nobody holds is `undefined` too. The watch stops when the last action holding it ends, and every watch at close().
 * Holding a watch open costs a connection, so actions hold one only while they drain: in a burst of hundreds of
 * terminations only --max-drain-concurrency of them are open at once.
 */
export class PodsOnNodes {
  private readonly held = new Map<string, Held>();
  private readonly seeds = new Map<string, NodePodSeed & { readonly atMs: number }>();
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

  /**
   * What a LIST of the node's pods (`fieldSelector=spec.nodeName=<node>`) answered, for the node's watch to start
   * from instead of listing again. A node without pods is not kept: a watch started from an empty list could call
   * a node drained before the watch has replayed what was bound to it since (with pods in the seed, "drained" needs
   * their deletions, which the watch delivers in order after everything before them).
   */
  remember(nodeName: string, pods: readonly PodInfo[], resourceVersion: string | undefined): void {
    if (this.closed || !resourceVersion || pods.length === 0 || this.held.get(nodeName)?.watch) return;
    this.seeds.delete(nodeName);
    this.seeds.set(nodeName, { pods, resourceVersion, atMs: Date.now() });
    for (const oldest of this.seeds.keys()) {
      if (this.seeds.size <= MAX_SEEDS) break;
      this.seeds.delete(oldest);
    }
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
    this.seeds.clear();
    await Promise.all(entries.map((e) => e.watch?.stop().catch(() => undefined)));
  }

  private async start(nodeName: string, entry: Held): Promise<NodePodWatch> {
    let watch = this.open(nodeName);
    try {
      const seed = this.takeSeed(nodeName);
      try {
        await watch.start(seed);
      } catch (e) {
        if (!seed) throw e;
        this.log.debug(`the pod watch of node ${nodeName} did not start from its last list (${describeError(e)}); listing them`);
        watch = this.open(nodeName);
        await watch.start();
      }
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

  private takeSeed(nodeName: string): NodePodSeed | undefined {
    const seed = this.seeds.get(nodeName);
    this.seeds.delete(nodeName);
    return seed && Date.now() - seed.atMs <= SEED_TTL_MS ? seed : undefined;
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

/** The index key of a pod, from the API object (the watch) and from a PodInfo (a seed) alike. */
const podKey = (namespace: string, name: string): string => `${namespace}/${name}`;

/** A NodePodWatch on the apiserver: a WatchedCollection of the node's pods, keyed namespace/name. */
export function watchPodsOfNode(clients: KubeClients, nodeName: string, toInfo: (pod: k8s.V1Pod) => PodInfo, log: Logger, metrics: Metrics, timings: WatchTimings): NodePodWatch {
  const fieldSelector = `spec.nodeName=${nodeName}`;
  const pods = new WatchedCollection<k8s.V1Pod, PodInfo>(clients, {
    noun: `node ${nodeName} pod`, resource: 'pods', watchPath: '/api/v1/pods', watchQuery: { fieldSelector },
    list: (page, o) => clients.core.listPodForAllNamespaces({ ...page, fieldSelector }, o),
    keyOf: (pod) => (pod.metadata?.name ? podKey(pod.metadata.namespace ?? '', pod.metadata.name) : undefined),
    toInfo,
  }, undefined, log, metrics, timings);
  return {
    start: (seed) => pods.start(seed ? { entries: seed.pods.map((p) => [podKey(p.namespace, p.name), p] as const), resourceVersion: seed.resourceVersion } : undefined),
    stop: () => pods.stop(),
    isCurrent: () => pods.isCurrent(),
    pods: () => [...pods.values()],
  };
}
