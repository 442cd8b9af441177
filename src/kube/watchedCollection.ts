import * as k8s from './k8s.js';
import { sleep } from '../lifecycle/sleep.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { KubeClients } from './apiClients.js';
import type { CollectionListener, KubeObject, WatchHealth, WatchTimings, WatchedResource } from './watchedResource.js';

export type { CollectionListener, WatchHealth, WatchTimings, WatchedResource } from './watchedResource.js';

/** A watch silent for longer than its server-side timeout plus this no longer answers reads (it should have been ended and reconnected). */
const FRESHNESS_SLACK_MS = 5_000;
/** A start from a seed waits this long for its watch to connect, then gives up (its caller lists instead). */
const SEEDED_CONNECT_TIMEOUT_MS = 10_000;
/** Between a list (or the end of a watch) and the next watch connection, the index answers reads this long. */
const CONNECTING_GRACE_MS = 2_000;

/**
 * A watch-backed index of one kind of object, by name (or `keyOf`). One paginated LIST at start (and after the
 * watch's resourceVersion expires), then a watch from that resourceVersion: reading the index costs no API call.
 * Only what `toInfo` keeps is held per object. The watch reconnects with a capped backoff after errors, relists
 * after three failures in a row, and is restarted when it shows no sign of life for 1.5 × its server-side timeout
 * (the apiserver would have ended it by then).
 */
export class WatchedCollection<T extends KubeObject, Info> {
  private readonly items = new Map<string, Info>();
  private readonly stopping = new AbortController();
  private resourceVersion = '';
  private synced = false;
  private watching: Promise<void> | undefined;
  private watchLoopEnded = false;
  private currentWatch: AbortController | undefined;
  /** A watch connection is open (the apiserver answered it and it has not ended). */
  private connected = false;
  private watchGeneration = 0;
  private abandonWatch: (() => void) | undefined;
  /** Last time the watch showed it is alive: connected, an event, a bookmark, a relist. */
  private lastProgressAtMs = Date.now();
  private stalledSinceMs: number | undefined;
  private relistFailure: string | undefined;
  private stallTimer: NodeJS.Timeout | undefined;
  /** A seeded start waits for the watch's first sign of life (or its first failure). */
  private firstProgress: Deferred | undefined;

  constructor(
    private readonly clients: KubeClients,
    private readonly resource: WatchedResource<T, Info>,
    private readonly listener: CollectionListener<Info> | undefined,
    private readonly log: Logger,
    private readonly metrics: Metrics,
    private readonly timings: WatchTimings,
  ) {}

  get isSynced(): boolean {
    return this.synced;
  }

  get(name: string): Info | undefined {
    return this.items.get(name);
  }

  values(): IterableIterator<Info> {
    return this.items.values();
  }

  /**
   * Whether the index may answer a read now instead of the apiserver: synced, its last relist successful, and its
   * watch connected and heard from within its server-side timeout (a healthy watch is ended and reconnected by then)
   * — or, while it connects, heard from within the last two seconds. A read never sees a state older than that.
   */
  isCurrent(nowMs = Date.now()): boolean {
    if (!this.synced || this.firstProgress || this.watchLoopEnded || this.stopping.signal.aborted || this.stalledSinceMs !== undefined || this.relistFailure !== undefined) return false;
    return nowMs - this.lastProgressAtMs <= (this.connected ? this.timings.watchTimeoutSeconds * 1000 + FRESHNESS_SLACK_MS : CONNECTING_GRACE_MS);
  }

  health(nowMs = Date.now()): WatchHealth {
    const { noun } = this.resource;
    const stalled = this.stalledSinceMs !== undefined;
    const problem = !this.synced ? `${noun} cache not synced`
      : this.watchLoopEnded ? `${noun} watch loop ended`
      : stalled ? `${noun} watch stalled for ${Math.round((nowMs - this.lastProgressAtMs) / 1000)}s`
      : this.relistFailure ? `${noun} list failing: ${this.relistFailure}` : undefined;
    return { live: !this.watchLoopEnded, ready: problem === undefined, problem };
  }

  /**
   * Resolves once the initial list has filled the index; the watch then runs until stop(). With `seed` (what a LIST
   * of the same selector answered earlier, and its resourceVersion) there is no list: the index starts from the seed
   * and the watch from its resourceVersion, which replays every change since; it resolves once that watch is
   * connected (or, the resourceVersion being too old, once it relisted) and rejects when the watch could not connect.
   */
  async start(seed?: CollectionSeed<Info>): Promise<void> {
    const connected = seed ? deferred() : undefined;
    if (seed) {
      for (const [key, info] of seed.entries) {
        this.items.set(key, info);
        this.listener?.upsert(key, info, undefined);
      }
      this.resourceVersion = seed.resourceVersion;
      // Not current until the watch has connected (isCurrent): the seed may be older than a read may see.
      this.firstProgress = connected;
    } else {
      await this.relist();
    }
    this.lastProgressAtMs = Date.now();
    this.synced = true;
    this.watching = this.watchUntilStopped().finally(() => { this.watchLoopEnded = !this.stopping.signal.aborted; });
    const everyMs = this.timings.stallCheckIntervalMs ?? Math.min(30_000, (this.timings.watchTimeoutSeconds * 1000) / 4);
    this.stallTimer = setInterval(() => this.checkStall(), everyMs);
    this.stallTimer.unref();
    if (connected) {
      // A watch request the apiserver leaves unanswered has no timeout of its own: bounded here, like a LIST.
      const timer = setTimeout(() => connected.reject(new Error(`the ${this.resource.noun} watch did not connect within ${SEEDED_CONNECT_TIMEOUT_MS / 1000}s`)), SEEDED_CONNECT_TIMEOUT_MS);
      try {
        await connected.promise;
      } catch (e) {
        await this.stop();
        throw e;
      } finally {
        clearTimeout(timer);
      }
    }
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    this.firstProgress?.reject(new Error(`the ${this.resource.noun} watch was stopped before it connected`));
    this.firstProgress = undefined;
    clearInterval(this.stallTimer);
    this.abandonWatch?.();
    await this.watching;
  }

  /**
   * A consistent read (no resourceVersion: the apiserver answers from etcd, not its watch cache), page by page until
   * `wanted` matches; what it finds goes into the index too. Errors are thrown as the client raised them.
   */
  async findFresh(operation: string, wanted: (info: Info) => boolean, signal: AbortSignal): Promise<Info | undefined> {
    let next: string | undefined;
    do {
      const page = await this.clients.call(signal, operation, (o) => this.resource.list({ limit: 500, ...(next ? { _continue: next } : {}) }, o));
      for (const object of page.items) {
        const info = this.resource.toInfo(object);
        if (info && wanted(info)) return this.upsert(object);
      }
      next = page.metadata?._continue || undefined;
    } while (next);
    return undefined;
  }

  private progressed(): void {
    this.lastProgressAtMs = Date.now();
    this.firstProgress?.resolve();
    this.firstProgress = undefined;
    if (this.stalledSinceMs !== undefined) {
      this.log.info(`${this.resource.noun} watch is receiving again`);
      this.stalledSinceMs = undefined;
    }
  }

  private checkStall(): void {
    if (!this.synced || this.stopping.signal.aborted) return;
    const silentMs = Date.now() - this.lastProgressAtMs;
    if (silentMs < this.timings.watchTimeoutSeconds * 1500) return;
    const line = `${this.resource.noun} watch stalled: no event, bookmark or reconnect for ${Math.round(silentMs / 1000)}s (the apiserver ends a watch after ${this.timings.watchTimeoutSeconds}s); restarting it`;
    if (this.stalledSinceMs === undefined) {
      this.stalledSinceMs = Date.now();
      this.log.warn(line);
    } else {
      this.log.debug(line);
    }
    this.abandonWatch?.();
  }

  private async relist(): Promise<void> {
    try {
      await this.listAll();
      this.relistFailure = undefined;
    } catch (e) {
      this.relistFailure = firstLine(e);
      throw e;
    }
  }

  private async listAll(): Promise<void> {
    const seen = new Set<string>();
    let next: string | undefined;
    do {
      const page = await this.clients.call(this.stopping.signal, `list ${this.resource.resource}`, (o) => this.resource.list({ limit: 500, ...(next ? { _continue: next } : {}) }, o));
      for (const object of page.items) {
        const key = this.keyOf(object);
        if (key && this.upsert(object)) seen.add(key);
      }
      next = page.metadata?._continue || undefined;
      this.resourceVersion = page.metadata?.resourceVersion ?? this.resourceVersion;
    } while (next);
    for (const key of [...this.items.keys()]) {
      if (!seen.has(key)) this.remove(key);
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
        if (this.firstProgress) {
          // A seeded start that never connected: its caller lists instead.
          this.firstProgress.reject(e);
          this.firstProgress = undefined;
          return;
        }
        failures++;
        const delayMs = Math.min(30_000, 1_000 * 2 ** Math.min(failures - 1, 5));
        this.log.warn(`${this.resource.noun} watch failed (${firstLine(e)}); restarting in ${delayMs / 1000}s`, { error: e });
        await sleep(delayMs, this.stopping.signal).catch(() => undefined);
        if (failures >= 3) {
          await this.relist().then(() => this.progressed(), (err: unknown) => {
            this.log.warn(`could not list the ${this.resource.resource} again (${firstLine(err)}); the ${this.resource.noun} index may be stale until it can`, { error: err });
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
    this.connected = false;
    return new Promise((resolve, reject) => {
      let expired = false;
      this.abandonWatch = () => {
        this.watchGeneration++;
        this.connected = false;
        this.currentWatch?.abort();
        resolve('ended');
      };
      const onEvent = (type: string, object: T | k8s.V1Status): void => {
        if (!current()) return;
        if (type === 'ERROR') {
          if ((object as k8s.V1Status).code === 410) expired = true;
          return;
        }
        const rv = object.metadata?.resourceVersion;
        if (rv) this.resourceVersion = rv;
        this.progressed();
        const key = this.keyOf(object as T);
        if (type === 'ADDED' || type === 'MODIFIED') {
          if (!this.upsert(object as T) && key) this.remove(key);
        } else if (type === 'DELETED' && key) {
          this.remove(key);
        }
      };
      const onDone = (err: unknown): void => {
        if (!current()) return;
        this.connected = false;
        if (expired) resolve('expired');
        else if (err && !this.stopping.signal.aborted && !(err instanceof Error && err.name === 'AbortError')) reject(err);
        else {
          // Ended by the apiserver on time: alive until now.
          if (!err) this.progressed();
          resolve('ended');
        }
      };
      new k8s.Watch(this.clients.kubeConfig)
        .watch(this.resource.watchPath, { ...this.resource.watchQuery, resourceVersion: this.resourceVersion, allowWatchBookmarks: true, timeoutSeconds: this.timings.watchTimeoutSeconds }, onEvent, onDone)
        .then((controller) => {
          if (!current()) {
            controller.abort();
            return;
          }
          this.metrics.kubeCalls.inc({ verb: 'watch', resource: this.resource.resource });
          this.currentWatch = controller;
          this.connected = true;
          // The apiserver answered: the watch is alive.
          this.progressed();
          if (this.stopping.signal.aborted) controller.abort();
        }, (e: unknown) => { if (current()) reject(e); });
    });
  }

  private keyOf(object: T): string | undefined {
    return this.resource.keyOf ? this.resource.keyOf(object) : object.metadata?.name;
  }

  private upsert(object: T): Info | undefined {
    const key = this.keyOf(object);
    const info = this.resource.toInfo(object);
    if (!key || !info) return undefined;
    const previous = this.items.get(key);
    this.items.set(key, info);
    this.listener?.upsert(key, info, previous);
    return info;
  }

  private remove(key: string): void {
    const info = this.items.get(key);
    if (info === undefined) return;
    this.items.delete(key);
    this.listener?.remove(key, info);
  }
}

/** The index's starting point without a LIST: entries (key, info) and the resourceVersion they were read at. */
export interface CollectionSeed<Info> {
  readonly entries: Iterable<readonly [string, Info]>;
  readonly resourceVersion: string;
}

interface Deferred {
  readonly promise: Promise<void>;
  resolve(): void;
  reject(e: unknown): void;
}

function deferred(): Deferred {
  let resolve!: () => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<void>((res, rej) => { resolve = res; reject = rej; });
  return { promise, resolve, reject };
}

function firstLine(e: unknown): string {
  return e instanceof Error ? e.message.split('\n')[0] ?? '' : String(e);
}
