import type * as k8s from '@kubernetes/client-node';
import { type LifecycleAction, actionKey } from '../lifecycle/action.js';
import { TransientError } from '../lifecycle/errors.js';
import type { ActionPhase, ActionRecord, ActionStore, ClaimResult, NoticeEvent, NoticeLedger, RecordState } from '../lifecycle/ports.js';
import type { KubeClients } from './apiClients.js';
import { isConflict, isNotFound, toDomainError } from './errors.js';
import {
  KIND_LABEL, MANAGED_BY, NOTICES, PHASE, PREFIX, QUEUE_LABEL, actionAnnotation, fromLease, heldElsewhere, isReplicaLease, leaseName, noticesOf,
  queueSelector, withMicroTimes,
} from './leaseRecords.js';
import { ReplicaDirectory, type ReplicaLease } from './replicaLease.js';

const MIN_LEASE_DURATION_SECONDS = 5;

/**
 * Durable per-action state: one coordination.k8s.io/v1 Lease per action — (group, hook, instance), the key every
 * record of an action uses, so two termination hooks on one instance are two Leases — in the service's namespace
 * (`kubectl get leases -l app.kubernetes.io/managed-by=lifecycle-manager`). `holderIdentity` is the replica that
 * owns the action; annotations carry the action (including its token), its phase, its first receipt and its
 * deadline, which a take-over keeps. The record is written when the action is claimed, when its phase changes and
 * when it ends, not renewed: its holder's replica Lease (replicaLease.ts), renewed once for all the holder's actions,
 * says whether the holder is alive. A record whose own renewTime + leaseDurationSeconds has not passed counts as held
 * too (an older release renewed every action's Lease), so a mixed-version rollout never lets two replicas own one
 * action. Every write uses the resourceVersion last read, so two replicas can never both believe they own an action.
 * The webhook notices sent for the action are recorded there too (`…/notices`), before each is sent, and kept across
 * take-overs: that is what makes them at most once per action and event.
 */
export class LeaseActionStore implements ActionStore, NoticeLedger {
  private readonly seen = new Map<string, k8s.V1Lease>();
  /** Lease names found by the orphan scan (an older release named Leases after the instance only). */
  private readonly names = new Map<string, string>();
  /** Per action, the last of its writes in order (phase writes, notice records, then the release or hand-over). */
  private readonly writing = new Map<string, Promise<unknown>>();
  private readonly replicas: ReplicaDirectory;
  /** Per action this replica holds, the liveness's lapse count when the record was last seen as this replica's. */
  private readonly ownAtLapse = new Map<string, number>();

  constructor(
    private readonly clients: KubeClients,
    private readonly namespace: string,
    readonly liveness: ReplicaLease,
    private readonly queueLabel: string,
    private readonly now: () => number = Date.now,
  ) {
    // A holder's replica Lease is read once per third of the shortest lease duration at most.
    this.replicas = new ReplicaDirectory(clients, namespace, (MIN_LEASE_DURATION_SECONDS * 1000) / 3, now);
  }

  get identity(): string {
    return this.liveness.identity;
  }

  get leaseDurationSeconds(): number {
    return this.liveness.durationSeconds;
  }

  /** Creates the record first (a new action's usual case: one call); only a record that exists already is read. */
  async claim(record: Omit<ActionRecord, 'holder'>, signal: AbortSignal): Promise<ClaimResult> {
    const key = actionKey(record.action);
    for (let attempt = 0; attempt < 3; attempt++) {
      // A record the orphan scan found exists (maybe under an older name): no create is tried for it.
      if (!this.names.has(key)) {
        try {
          const created = await this.clients.call(signal, `create lease for ${record.action.instanceId}`, (o) => this.clients.coordination.createNamespacedLease({ namespace: this.namespace, body: withMicroTimes(this.toLease(record, undefined)) }, o));
          this.remember(record.action, created);
          return { status: 'claimed', record: fromLease(created) ?? { ...record, holder: this.identity }, resumedFrom: undefined, previousHolder: undefined };
        } catch (e) {
          if (!isConflict(e)) throw toDomainError(e, `create lease for ${record.action.instanceId}`, this.clients.authorizerWarmup);
        }
      }
      const current = await this.read(record.action, signal);
      if (!current) {
        this.names.delete(key);
        continue; // deleted a moment ago (its owner finished): create it
      }
      const holder = current.spec?.holderIdentity ?? '';
      if (await this.heldElsewhere(current, signal)) return { status: 'held-elsewhere', holder };
      const resumedFrom = current.metadata?.annotations?.[PHASE] as ActionPhase | undefined;
      try {
        const taken = await this.replace(this.toLease({ ...record, phase: resumedFrom ?? record.phase }, current), signal);
        this.remember(record.action, taken);
        return { status: 'claimed', record: fromLease(taken) ?? { ...record, holder: this.identity }, resumedFrom, previousHolder: holder || undefined };
      } catch (e) {
        if (!isConflict(e)) throw toDomainError(e, `take over lease for ${record.action.instanceId}`, this.clients.authorizerWarmup);
      }
    }
    const holder = (await this.read(record.action, signal))?.spec?.holderIdentity ?? 'another replica';
    return { status: 'held-elsewhere', holder };
  }

  async inspect(action: LifecycleAction, signal: AbortSignal): Promise<RecordState> {
    const lease = await this.read(action, signal);
    if (!lease) return 'absent';
    return { holder: lease.spec?.holderIdentity ?? '', claimable: !(await this.heldElsewhere(lease, signal)) };
  }

  /**
   * Writes one action's Lease (renewTime, and the phase when given) with the version last read: a phase change, or
   * the proof of ownership before completing when the replica Lease cannot vouch for it. Writes of the same action
   * are serialised; a conflict is re-read and retried, and only a Lease that another replica now holds, or that is
   * gone, counts as lost.
   */
  renew(action: LifecycleAction, phase: ActionPhase | undefined, signal: AbortSignal): Promise<'renewed' | 'lost'> {
    return this.inOrder(action, () => this.renewNow(action, phase, signal));
  }

  /**
   * Records `event` in the Lease's notices unless it is there already, with the resourceVersion last read (a
   * replica that took the action over makes this write fail, and it is re-read): 'not-owned' when another replica
   * holds the Lease or it is gone.
   */
  recordNotice(action: LifecycleAction, event: NoticeEvent, signal: AbortSignal): Promise<'recorded' | 'already-recorded' | 'not-owned'> {
    return this.inOrder(action, async () => {
      let lease = this.seen.get(actionKey(action)) ?? (await this.read(action, signal));
      for (let attempt = 0; attempt < 5; attempt++) {
        if (!lease || lease.spec?.holderIdentity !== this.identity) return 'not-owned';
        const sent = noticesOf(lease);
        if (sent.includes(event)) return 'already-recorded';
        const next = structuredClone(lease);
        next.metadata = { ...next.metadata, annotations: { ...next.metadata?.annotations, [NOTICES]: [...sent, event].join(',') } };
        try {
          this.remember(action, await this.replace(next, signal));
          return 'recorded';
        } catch (e) {
          if (isNotFound(e)) return 'not-owned';
          if (!isConflict(e)) throw toDomainError(e, `record a notice in the lease for ${action.instanceId}`, this.clients.authorizerWarmup);
          lease = await this.read(action, signal);
        }
      }
      throw new TransientError(`record a notice in the lease for ${action.instanceId}: it kept changing under us`, false);
    });
  }

  /**
   * Runs one write of an action's Lease after the ones before it: a phase write and the one before completing must
   * not race each other into conflicts, and a notice's record must land before the release.
   */
  private inOrder<T>(action: LifecycleAction, write: () => Promise<T>): Promise<T> {
    const key = actionKey(action);
    const previous = this.writing.get(key) ?? Promise.resolve();
    const next = previous.catch(() => undefined).then(write);
    this.writing.set(key, next);
    void next.finally(() => { if (this.writing.get(key) === next) this.writing.delete(key); }).catch(() => undefined);
    return next;
  }

  private async renewNow(action: LifecycleAction, phase: ActionPhase | undefined, signal: AbortSignal): Promise<'renewed' | 'lost'> {
    let lease = this.seen.get(actionKey(action)) ?? (await this.read(action, signal));
    for (let attempt = 0; attempt < 5; attempt++) {
      if (!lease || lease.spec?.holderIdentity !== this.identity) return 'lost';
      const next = structuredClone(lease);
      next.spec = { ...next.spec, renewTime: new Date(this.now()) };
      if (phase) next.metadata = { ...next.metadata, annotations: { ...next.metadata?.annotations, [PHASE]: phase } };
      try {
        this.remember(action, await this.replace(next, signal));
        return 'renewed';
      } catch (e) {
        if (isNotFound(e)) return 'lost';
        if (!isConflict(e)) throw toDomainError(e, `renew lease for ${action.instanceId}`, this.clients.authorizerWarmup);
        lease = await this.read(action, signal);
      }
    }
    throw new TransientError(`renew lease for ${action.instanceId}: it kept changing under us`, false);
  }

  release(action: LifecycleAction, signal: AbortSignal): Promise<void> {
    return this.inOrder(action, () => this.releaseNow(action, signal));
  }

  private async releaseNow(action: LifecycleAction, signal: AbortSignal): Promise<void> {
    const key = actionKey(action);
    const name = this.nameOf(action);
    this.seen.delete(key);
    this.ownAtLapse.delete(key);
    try {
      await this.clients.call(signal, `delete lease for ${action.instanceId}`, (o) => this.clients.coordination.deleteNamespacedLease({ name, namespace: this.namespace }, o));
    } catch (e) {
      if (!isNotFound(e)) throw toDomainError(e, `delete lease for ${action.instanceId}`, this.clients.authorizerWarmup);
    }
    this.names.delete(key);
  }

  handOver(action: LifecycleAction, signal: AbortSignal): Promise<void> {
    return this.inOrder(action, () => this.handOverNow(action, signal));
  }

  private async handOverNow(action: LifecycleAction, signal: AbortSignal): Promise<void> {
    const lease = this.seen.get(actionKey(action));
    this.seen.delete(actionKey(action));
    this.ownAtLapse.delete(actionKey(action));
    if (!lease || lease.spec?.holderIdentity !== this.identity) return;
    const next = structuredClone(lease);
    next.spec = { ...next.spec, holderIdentity: '', renewTime: new Date(0) };
    try {
      await this.replace(next, signal);
    } catch (e) {
      if (!isConflict(e) && !isNotFound(e)) throw toDomainError(e, `hand over lease for ${action.instanceId}`, this.clients.authorizerWarmup);
    }
  }

  /** One LIST of the queue's Leases, both kinds: the replica Leases in it say which holders are alive. */
  async listOrphans(signal: AbortSignal): Promise<ActionRecord[]> {
    let list: k8s.V1LeaseList;
    try {
      list = await this.clients.call(signal, 'list leases', (o) => this.clients.coordination.listNamespacedLease({ namespace: this.namespace, labelSelector: queueSelector(this.queueLabel) }, o));
    } catch (e) {
      throw toDomainError(e, 'list leases', this.clients.authorizerWarmup);
    }
    const replicas = list.items.filter(isReplicaLease);
    this.replicas.learn(replicas);
    const replicaOf = new Map(replicas.map((l) => [l.spec?.holderIdentity ?? '', l]));
    const nowMs = this.now();
    return list.items
      .filter((l) => !isReplicaLease(l) && !heldElsewhere(l, this.identity, replicaOf.get(l.spec?.holderIdentity ?? ''), nowMs, this.leaseDurationSeconds))
      .flatMap((l) => {
        const record = fromLease(l);
        if (record && l.metadata?.name) this.names.set(actionKey(record.action), l.metadata.name);
        return record ? [record] : [];
      });
  }

  leaseDurationFor(heartbeatTimeoutSeconds: number): number {
    return Math.max(MIN_LEASE_DURATION_SECONDS, Math.min(this.leaseDurationSeconds, Math.floor(heartbeatTimeoutSeconds / 3)));
  }

  /** Whether a live replica other than this one holds the record (its holder's replica Lease is read, cached). */
  private async heldElsewhere(record: k8s.V1Lease, signal: AbortSignal): Promise<boolean> {
    const holder = record.spec?.holderIdentity ?? '';
    if (!holder || holder === this.identity) return false;
    if (heldElsewhere(record, this.identity, undefined, this.now(), this.leaseDurationSeconds)) return true;
    return heldElsewhere(record, this.identity, await this.replicas.leaseOf(holder, signal), this.now(), this.leaseDurationSeconds);
  }

  private nameOf(action: LifecycleAction): string {
    return this.names.get(actionKey(action)) ?? leaseName(action);
  }

  private async read(action: LifecycleAction, signal: AbortSignal): Promise<k8s.V1Lease | undefined> {
    try {
      const lease = await this.clients.call(signal, `read lease for ${action.instanceId}`, (o) => this.clients.coordination.readNamespacedLease({ name: this.nameOf(action), namespace: this.namespace }, o));
      this.remember(action, lease);
      return lease;
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw toDomainError(e, `read lease for ${action.instanceId}`, this.clients.authorizerWarmup);
    }
  }

  private replace(lease: k8s.V1Lease, signal: AbortSignal): Promise<k8s.V1Lease> {
    return this.clients.call(signal, `update lease ${lease.metadata!.name!}`, (o) => this.clients.coordination.replaceNamespacedLease({ name: lease.metadata!.name!, namespace: this.namespace, body: withMicroTimes(lease) }, o));
  }

  /** The Lease as last read or written; when it is this replica's, the liveness's lapses at that moment. */
  private remember(action: LifecycleAction, lease: k8s.V1Lease): void {
    this.seen.set(actionKey(action), lease);
    if (lease.spec?.holderIdentity === this.identity) this.ownAtLapse.set(actionKey(action), this.liveness.lapses);
    else this.ownAtLapse.delete(actionKey(action));
  }

  vouchedFor(action: LifecycleAction): boolean {
    const key = actionKey(action);
    const lease = this.seen.get(key);
    return lease !== undefined && this.ownAtLapse.get(key) === this.liveness.lapses
      && this.liveness.vouchesFor(lease.spec?.leaseDurationSeconds ?? this.leaseDurationSeconds);
  }

  private toLease(record: Omit<ActionRecord, 'holder'>, current: k8s.V1Lease | undefined): k8s.V1Lease {
    const now = new Date(this.now());
    const takeover = current !== undefined && current.spec?.holderIdentity !== this.identity;
    const a = record.action;
    // A Lease that exists already keeps when the action was first received and its deadline: --max-time-to-process
    // counts from the first receipt, whoever holds the action now.
    const kept = current ? fromLease(current) : undefined;
    const receivedAtMs = kept?.receivedAtMs ?? record.receivedAtMs;
    const deadlineMs = kept?.deadlineMs ?? record.deadlineMs;
    return {
      apiVersion: 'coordination.k8s.io/v1', kind: 'Lease',
      metadata: {
        name: current?.metadata?.name ?? leaseName(a), namespace: this.namespace,
        ...(current?.metadata?.resourceVersion ? { resourceVersion: current.metadata.resourceVersion } : {}),
        labels: { ...MANAGED_BY, [QUEUE_LABEL]: this.queueLabel, [KIND_LABEL]: 'action' },
        annotations: {
          [`${PREFIX}/action`]: actionAnnotation(a),
          [PHASE]: record.phase,
          [`${PREFIX}/received-at`]: new Date(receivedAtMs).toISOString(),
          [`${PREFIX}/deadline`]: new Date(deadlineMs).toISOString(),
          [`${PREFIX}/heartbeat-timeout-seconds`]: String(record.heartbeatTimeoutSeconds),
          // A take-over keeps what was sent: no notice goes out twice.
          ...(current && noticesOf(current).length > 0 ? { [NOTICES]: noticesOf(current).join(',') } : {}),
        },
      },
      spec: {
        holderIdentity: this.identity,
        leaseDurationSeconds: this.leaseDurationFor(record.heartbeatTimeoutSeconds),
        acquireTime: takeover || !current ? now : current.spec?.acquireTime ?? now,
        renewTime: now,
        leaseTransitions: (current?.spec?.leaseTransitions ?? 0) + (takeover ? 1 : 0),
      },
    };
  }
}

