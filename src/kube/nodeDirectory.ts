import * as k8s from '@kubernetes/client-node';
import { abortReason, sleep } from '../lifecycle/sleep.js';
import type { NodeDirectory, NodeInfo } from '../lifecycle/ports.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { KubeClients } from './apiClients.js';
import { toDomainError } from './errors.js';
import { toNodeInfo } from './nodeInfo.js';

export interface NodeWatchTimings {
  /** Server-side timeout of each watch request (the apiserver ends it then, and it is started again). */
  readonly watchTimeoutSeconds: number;
  /** How often the watch is checked for a stall. */
  readonly stallCheckIntervalMs?: number;
}

/** What /healthz and /readyz say about the node watch. */
export interface NodeWatchHealth {
  /** The watch loop is running (it restarts itself after errors; it only ends at stop()). */
  readonly live: boolean;
  /** Synced, not stalled, and the last relist (if one was needed) succeeded. */
  readonly ready: boolean;
  readonly problem: string | undefined;
}

/**
 * A watch-backed index of Nodes by EC2 instance id. One paginated LIST at start (and after the watch's
 * resourceVersion expires), then a watch: locating the node for an event costs no API call. Only the few fields
 * the drain needs are kept per Node (not the whole object, whose status alone can be tens of kilobytes), so memory
 * stays small in clusters of thousands of nodes. The watch reconnects from its last resourceVersion, with a capped
 * backoff after errors.
 */
export class WatchedNodeDirectory implements NodeDirectory {
  private readonly byInstance = new Map<string, NodeInfo>();
  private readonly byName = new Map<string, string>();
  private readonly waiters = new Map<string, Set<(node: NodeInfo) => void>>();
  private readonly stopping = new AbortController();
  private resourceVersion = '';
  private synced = false;
  private watching: Promise<void> | undefined;
  private watchLoopEnded = false;
  private currentWatch: AbortController | undefined;
  private watchGeneration = 0;
  private abandonWatch: (() => void) | undefined;
  /** Last time the watch showed it is alive: connected, an event, a bookmark, a relist. */
  private lastProgressAtMs = Date.now();
  private stalledSinceMs: number | undefined;
  private relistFailure: string | undefined;
  private stallTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly clients: KubeClients,
    private readonly log: Logger,
    private readonly metrics: Metrics,
    private readonly timings: NodeWatchTimings = { watchTimeoutSeconds: 300 },
  ) {}

  get isSynced(): boolean {
    return this.synced;
  }

  /**
   * A watch that has shown no event, bookmark or reconnect for 1.5 × its server-side timeout is stalled (the
   * apiserver would have ended it by then): it is restarted, logged, and /readyz fails until it shows life again.
   */
  health(nowMs = Date.now()): NodeWatchHealth {
    const stalled = this.stalledSinceMs !== undefined;
    const problem = !this.synced ? 'node cache not synced'
      : this.watchLoopEnded ? 'node watch loop ended'
      : stalled ? `node watch stalled for ${Math.round((nowMs - this.lastProgressAtMs) / 1000)}s`
      : this.relistFailure ? `node list failing: ${this.relistFailure}` : undefined;
    return { live: !this.watchLoopEnded, ready: problem === undefined, problem };
  }

  /** Resolves once the initial list has filled the index; the watch then runs until stop(). */
  async start(): Promise<void> {
    await this.relist();
    this.synced = true;
    this.lastProgressAtMs = Date.now();
    this.watching = this.watchUntilStopped().finally(() => { this.watchLoopEnded = !this.stopping.signal.aborted; });
    const everyMs = this.timings.stallCheckIntervalMs ?? Math.min(30_000, (this.timings.watchTimeoutSeconds * 1000) / 4);
    this.stallTimer = setInterval(() => this.checkStall(), everyMs);
    this.stallTimer.unref();
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    clearInterval(this.stallTimer);
    this.abandonWatch?.();
    await this.watching;
  }

  async readFresh(instanceId: string, signal: AbortSignal): Promise<NodeInfo | undefined> {
    // No resourceVersion: the apiserver answers from a consistent read, not from its watch cache.
    let next: string | undefined;
    do {
      let page: k8s.V1NodeList;
      try {
        page = await this.clients.call(signal, 'list nodes', (o) => this.clients.core.listNode({ limit: 500, ...(next ? { _continue: next } : {}) }, o));
      } catch (e) {
        throw toDomainError(e, 'list nodes', this.clients.authorizerWarmup);
      }
      const found = page.items.find((n) => toNodeInfo(n)?.instanceId === instanceId);
      if (found) return this.upsert(found);
      next = page.metadata?._continue || undefined;
    } while (next);
    return undefined;
  }

  private progressed(): void {
    this.lastProgressAtMs = Date.now();
    if (this.stalledSinceMs !== undefined) {
      this.log.info('node watch is receiving again');
      this.stalledSinceMs = undefined;
    }
  }

  private checkStall(): void {
    if (!this.synced || this.stopping.signal.aborted) return;
    const silentMs = Date.now() - this.lastProgressAtMs;
    if (silentMs < this.timings.watchTimeoutSeconds * 1500) return;
    const line = `node watch stalled: no event, bookmark or reconnect for ${Math.round(silentMs / 1000)}s (the apiserver ends a watch after ${this.timings.watchTimeoutSeconds}s); restarting it`;
    if (this.stalledSinceMs === undefined) {
      this.stalledSinceMs = Date.now();
      this.log.warn(line);
    } else {
      this.log.debug(line);
    }
    this.abandonWatch?.();
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

  private async relist(): Promise<void> {
    try {
      await this.listAll();
      this.relistFailure = undefined;
    } catch (e) {
      this.relistFailure = e instanceof Error ? e.message.split('\n')[0] : String(e);
      throw e;
    }
  }

  private async listAll(): Promise<void> {
    const seen = new Set<string>();
    let next: string | undefined;
    do {
      const page: k8s.V1NodeList = await this.clients.call(this.stopping.signal, 'list nodes', (o) => this.clients.core.listNode({ limit: 500, ...(next ? { _continue: next } : {}) }, o));
      for (const node of page.items) {
        const info = this.upsert(node);
        if (info) seen.add(info.name);
      }
      next = page.metadata?._continue || undefined;
      this.resourceVersion = page.metadata?.resourceVersion ?? this.resourceVersion;
    } while (next);
    for (const [name, instanceId] of this.byName) {
      if (!seen.has(name)) this.forget(name, instanceId);
    }
  }

  private async watchUntilStopped(): Promise<void> {
    let failures = 0;
    while (!this.stopping.signal.aborted) {
      try {
        const outcome = await this.watchOnce();
        failures = 0;
        if (outcome === 'expired') {
          await this.relist();
          this.progressed();
        }
      } catch (e) {
        if (this.stopping.signal.aborted) return;
        failures++;
        const delayMs = Math.min(30_000, 1_000 * 2 ** Math.min(failures - 1, 5));
        this.log.warn(`node watch failed (${e instanceof Error ? e.message.split('\n')[0] : String(e)}); restarting in ${delayMs / 1000}s`, { error: e });
        await sleep(delayMs, this.stopping.signal).catch(() => undefined);
        if (failures >= 3) {
          await this.relist().then(() => this.progressed(), (err: unknown) => {
            this.log.warn(`could not list the nodes again (${err instanceof Error ? err.message.split('\n')[0] : String(err)}); the node index may be stale until it can`);
          });
        }
      }
    }
  }

  /**
   * One watch connection from the last resourceVersion; 'expired' when the apiserver answers 410 Gone. The client
   * library's watch takes no signal until the apiserver has answered, so a request that never gets an answer is
   * abandoned instead (`abandonWatch`): its late events, if any ever come, are ignored and it is closed.
   */
  private watchOnce(): Promise<'ended' | 'expired'> {
    const generation = ++this.watchGeneration;
    const current = (): boolean => generation === this.watchGeneration;
    return new Promise((resolve, reject) => {
      let expired = false;
      this.abandonWatch = () => {
        this.watchGeneration++;
        this.currentWatch?.abort();
        resolve('ended');
      };
      const onEvent = (type: string, object: k8s.V1Node | k8s.V1Status): void => {
        if (!current()) return;
        if (type === 'ERROR') {
          if ((object as k8s.V1Status).code === 410) expired = true;
          return;
        }
        const rv = object.metadata?.resourceVersion;
        if (rv) this.resourceVersion = rv;
        this.progressed();
        if (type === 'ADDED' || type === 'MODIFIED') this.upsert(object as k8s.V1Node);
        else if (type === 'DELETED') {
          const name = (object as k8s.V1Node).metadata?.name;
          if (name) this.forget(name, this.byName.get(name));
        }
      };
      const onDone = (err: unknown): void => {
        if (!current()) return;
        if (expired) resolve('expired');
        else if (err && !this.stopping.signal.aborted && !(err instanceof Error && err.name === 'AbortError')) reject(err);
        else resolve('ended');
      };
      new k8s.Watch(this.clients.kubeConfig)
        .watch('/api/v1/nodes', { resourceVersion: this.resourceVersion, allowWatchBookmarks: true, timeoutSeconds: this.timings.watchTimeoutSeconds }, onEvent, onDone)
        .then((controller) => {
          if (!current()) {
            controller.abort();
            return;
          }
          this.metrics.kubeCalls.inc({ verb: 'watch', resource: 'nodes' });
          this.currentWatch = controller;
          // The apiserver answered: the watch is alive.
          this.progressed();
          if (this.stopping.signal.aborted) controller.abort();
        }, (e: unknown) => { if (current()) reject(e); });
    });
  }

  private upsert(node: k8s.V1Node): NodeInfo | undefined {
    const info = toNodeInfo(node);
    if (!info) return undefined;
    const previous = this.byName.get(info.name);
    if (previous && previous !== info.instanceId) this.byInstance.delete(previous);
    this.byInstance.set(info.instanceId, info);
    this.byName.set(info.name, info.instanceId);
    const waiting = this.waiters.get(info.instanceId);
    if (waiting) {
      this.waiters.delete(info.instanceId);
      for (const notify of waiting) notify(info);
    }
    return info;
  }

  private forget(name: string, instanceId: string | undefined): void {
    this.byName.delete(name);
    if (instanceId && this.byInstance.get(instanceId)?.name === name) this.byInstance.delete(instanceId);
  }
}
