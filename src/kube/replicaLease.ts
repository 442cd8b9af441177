import type * as k8s from '@kubernetes/client-node';
import { describeError } from '../lifecycle/errors.js';
import type { ReplicaLiveness } from '../lifecycle/ports.js';
import { sleep } from '../lifecycle/sleep.js';
import type { Logger } from '../observability/logger.js';
import type { KubeClients } from './apiClients.js';
import { isConflict, isNotFound, toDomainError } from './errors.js';
import { KIND_LABEL, MANAGED_BY, QUEUE_LABEL, replicaLeaseName, withMicroTimes } from './leaseRecords.js';

/**
 * This replica's own Lease (`lifecycle-manager-replica-<identity>`, holderIdentity = the identity, leaseDurationSeconds
 * = --lease-duration): one renewal proves that every action it holds is still worked on, so the actions' own records
 * are written only when they start, change phase and end. It is renewed every third of the shortest lease duration
 * its actions need (of --lease-duration when it holds none), created before the first message is received and
 * deleted at shutdown, after the actions were handed over.
 */
export class ReplicaLease implements ReplicaLiveness {
  readonly name: string;
  private lease: k8s.V1Lease | undefined;
  /** The renewTime of the last successful write (this process's clock, taken before sending it). */
  private lastRenewedAtMs: number | undefined;
  private lastAttemptAtMs = 0;
  private acquiredAt: Date | undefined;
  private readonly required = new Map<symbol, number>();
  private wake: (() => void) | undefined;
  lapses = 0;
  /** The longest the next renewal may come after the last one: the shortest duration needed at the last renewal. */
  private allowedGapMs = Infinity;

  constructor(
    private readonly clients: KubeClients,
    private readonly namespace: string,
    readonly identity: string,
    readonly durationSeconds: number,
    private readonly queueLabel: string,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {
    this.name = replicaLeaseName(identity);
  }

  require(leaseDurationSeconds: number): () => void {
    const before = this.renewEveryMs();
    const token = Symbol('action');
    this.required.set(token, leaseDurationSeconds);
    // An action that needs renewals sooner than the loop is waiting for: it wakes up and renews on the new schedule.
    if (this.renewEveryMs() < before) this.wake?.();
    return () => { this.required.delete(token); };
  }

  vouchesFor(leaseDurationSeconds: number): boolean {
    return this.lastRenewedAtMs !== undefined && this.now() - this.lastRenewedAtMs < (leaseDurationSeconds * 1000 * 2) / 3;
  }

  /** Creates the Lease, or takes it back (a restart under the same POD_NAME). Throws when the apiserver says no. */
  acquire(signal: AbortSignal): Promise<void> {
    return this.renew(signal);
  }

  /** Renews the Lease until `signal` aborts; a failed renewal is logged and tried again on the same schedule. */
  async keepRenewed(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      const woken = new AbortController();
      this.wake = () => woken.abort();
      await sleep(Math.max(0, this.lastAttemptAtMs + this.renewEveryMs() - this.now()), AbortSignal.any([signal, woken.signal])).catch(() => undefined);
      this.wake = undefined;
      if (signal.aborted) return;
      if (this.now() < this.lastAttemptAtMs + this.renewEveryMs()) continue;
      try {
        await this.renew(signal);
      } catch (e) {
        if (!signal.aborted) this.log.warn(`could not renew this replica's Lease ${this.name} (will retry): ${describeError(e)}`, { error: e });
      }
    }
  }

  /** Deletes the Lease (graceful shutdown): the actions still recorded as this replica's become claimable at once. */
  async release(signal: AbortSignal): Promise<void> {
    this.lastRenewedAtMs = undefined;
    try {
      await this.clients.call(signal, `delete lease ${this.name}`, (o) => this.clients.coordination.deleteNamespacedLease({ name: this.name, namespace: this.namespace }, o));
    } catch (e) {
      if (!isNotFound(e)) throw toDomainError(e, `delete lease ${this.name}`, this.clients.authorizerWarmup);
    }
    this.lease = undefined;
  }

  /** The shortest lease duration required now: --lease-duration when no action needs less. */
  private shortestSeconds(): number {
    return Math.min(this.durationSeconds, ...this.required.values());
  }

  private renewEveryMs(): number {
    return (this.shortestSeconds() * 1000) / 3;
  }

  private async renew(signal: AbortSignal): Promise<void> {
    const atMs = this.now();
    this.lastAttemptAtMs = atMs;
    let written: k8s.V1Lease | undefined;
    for (let attempt = 1; !written; attempt++) {
      try {
        written = await this.write(atMs, signal);
      } catch (e) {
        // Created before this process started (a restart under the same identity), changed or deleted meanwhile:
        // read what is there and write again with its version.
        if (!isConflict(e) && !isNotFound(e)) throw e;
        // Only this process writes its Lease once it has one: a conflict then is another process with this identity.
        if (isConflict(e) && this.lastRenewedAtMs !== undefined) {
          this.log.warn(`another process renews this replica's Lease ${this.name}: two replicas run as ${this.identity} (POD_NAME must differ), so neither one's death is noticed while the other lives`);
        }
        if (attempt === 3) throw toDomainError(e, `write lease ${this.name}`, this.clients.authorizerWarmup);
        this.lease = await this.read(signal);
      }
    }
    this.lease = written;
    // A lapse is a renewal later than the shortest lease duration its actions needed when it last renewed: one that
    // started to need a shorter one since is served by this renewal (it woke the loop), and is no lapse.
    if (this.lastRenewedAtMs !== undefined && atMs - this.lastRenewedAtMs > this.allowedGapMs) {
      this.lapses++;
      this.log.warn(`this replica's Lease ${this.name} was renewed again after ${((atMs - this.lastRenewedAtMs) / 1000).toFixed(1)}s without; each action in flight checks that no other replica took it over meanwhile`);
    }
    this.lastRenewedAtMs = atMs;
    this.allowedGapMs = this.shortestSeconds() * 1000;
  }

  private async write(atMs: number, signal: AbortSignal): Promise<k8s.V1Lease> {
    this.acquiredAt ??= new Date(atMs);
    const body: k8s.V1Lease = withMicroTimes({
      apiVersion: 'coordination.k8s.io/v1', kind: 'Lease',
      metadata: {
        name: this.name, namespace: this.namespace,
        ...(this.lease?.metadata?.resourceVersion ? { resourceVersion: this.lease.metadata.resourceVersion } : {}),
        labels: { ...MANAGED_BY, [QUEUE_LABEL]: this.queueLabel, [KIND_LABEL]: 'replica' },
      },
      spec: { holderIdentity: this.identity, leaseDurationSeconds: this.durationSeconds, acquireTime: this.acquiredAt, renewTime: new Date(atMs) },
    });
    const operation = this.lease ? `renew lease ${this.name}` : `create lease ${this.name}`;
    try {
      return await this.clients.call(signal, operation, (o) => (this.lease
        ? this.clients.coordination.replaceNamespacedLease({ name: this.name, namespace: this.namespace, body }, o)
        : this.clients.coordination.createNamespacedLease({ namespace: this.namespace, body }, o)));
    } catch (e) {
      throw isConflict(e) || isNotFound(e) ? e : toDomainError(e, operation, this.clients.authorizerWarmup);
    }
  }

  private async read(signal: AbortSignal): Promise<k8s.V1Lease | undefined> {
    try {
      return await this.clients.call(signal, `read lease ${this.name}`, (o) => this.clients.coordination.readNamespacedLease({ name: this.name, namespace: this.namespace }, o));
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw toDomainError(e, `read lease ${this.name}`, this.clients.authorizerWarmup);
    }
  }
}

/**
 * Other replicas' Leases, as the claim of an existing action record needs them: one GET per holder, shared by every
 * claim for a short while, so a burst of claims on one holder's records reads its Lease once. A cached renewTime
 * can only understate how alive a holder is.
 */
export class ReplicaDirectory {
  private readonly cache = new Map<string, { readonly readAtMs: number; readonly lease: Promise<k8s.V1Lease | undefined> }>();

  constructor(
    private readonly clients: KubeClients,
    private readonly namespace: string,
    private readonly cacheMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  leaseOf(holder: string, signal: AbortSignal): Promise<k8s.V1Lease | undefined> {
    const hit = this.cache.get(holder);
    if (hit && this.now() - hit.readAtMs < this.cacheMs) return hit.lease;
    const name = replicaLeaseName(holder);
    const lease = this.clients.call(signal, `read lease ${name}`, (o) => this.clients.coordination.readNamespacedLease({ name, namespace: this.namespace }, o))
      .catch((e: unknown) => {
        if (isNotFound(e)) return undefined;
        throw toDomainError(e, `read lease ${name}`, this.clients.authorizerWarmup);
      });
    this.remember(holder, lease);
    // A failed read is not remembered: the next claim asks again.
    lease.catch(() => { if (this.cache.get(holder)?.lease === lease) this.cache.delete(holder); });
    return lease;
  }

  /** Replica Leases a LIST just returned (the orphan scan's), as if each had been read now. */
  learn(replicas: readonly k8s.V1Lease[]): void {
    for (const lease of replicas) {
      const holder = lease.spec?.holderIdentity;
      if (holder && lease.metadata?.name === replicaLeaseName(holder)) this.remember(holder, Promise.resolve(lease));
    }
  }

  private remember(holder: string, lease: Promise<k8s.V1Lease | undefined>): void {
    const nowMs = this.now();
    if (this.cache.size > 1000) for (const [k, v] of this.cache) if (nowMs - v.readAtMs >= this.cacheMs) this.cache.delete(k);
    this.cache.set(holder, { readAtMs: nowMs, lease });
  }
}
