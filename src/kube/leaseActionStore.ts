import { createHash } from 'node:crypto';
import type * as k8s from '@kubernetes/client-node';
import { type LifecycleAction, actionKey } from '../lifecycle/action.js';
import { TransientError } from '../lifecycle/errors.js';
import type { ActionPhase, ActionRecord, ActionStore, ClaimResult, NoticeEvent, NoticeLedger, RecordState } from '../lifecycle/ports.js';
import type { KubeClients } from './apiClients.js';
import { isConflict, isNotFound, toDomainError } from './errors.js';

const PREFIX = 'lifecycle-manager.io';
const MANAGED_BY = { 'app.kubernetes.io/managed-by': 'lifecycle-manager' };
const MIN_LEASE_DURATION_SECONDS = 5;
/** The webhook notices recorded for the action, comma separated (received,drained,…). */
const NOTICES = `${PREFIX}/notices`;

function noticesOf(lease: k8s.V1Lease): string[] {
  return (lease.metadata?.annotations?.[NOTICES] ?? '').split(',').filter(Boolean);
}

/**
 * Durable per-action state: one coordination.k8s.io/v1 Lease per action — (group, hook, instance), the key every
 * record of an action uses, so two termination hooks on one instance are two Leases — in the service's namespace
 * (`kubectl get leases -l app.kubernetes.io/managed-by=lifecycle-manager`). `holderIdentity` is the replica that
 * owns the action; annotations carry the action (including its token), its phase, its first receipt and its
 * deadline, which a take-over keeps. Every write uses the resourceVersion last read, so two replicas can never both
 * believe they own an action. The webhook notices sent for the action are recorded there too (`…/notices`), before
 * each is sent, and kept across take-overs: that is what makes them at most once per action and event.
 */
export class LeaseActionStore implements ActionStore, NoticeLedger {
  private readonly seen = new Map<string, k8s.V1Lease>();
  /** Lease names found by the orphan scan (an older release named Leases after the instance only). */
  private readonly names = new Map<string, string>();
  /** Per action, the last of its writes in order (renewals, notice records, then the release or hand-over). */
  private readonly writing = new Map<string, Promise<unknown>>();
  private readonly queueLabel: string;

  constructor(
    private readonly clients: KubeClients,
    private readonly namespace: string,
    readonly identity: string,
    readonly leaseDurationSeconds: number,
    queueName: string,
    private readonly now: () => number = Date.now,
  ) {
    this.queueLabel = queueName.length <= 63 ? queueName : createHash('sha256').update(queueName).digest('hex').slice(0, 40);
  }

  async claim(record: Omit<ActionRecord, 'holder'>, signal: AbortSignal): Promise<ClaimResult> {
    for (let attempt = 0; attempt < 3; attempt++) {
      const current = await this.read(record.action, signal);
      if (!current) {
        try {
          const created = await this.clients.call(signal, `create lease for ${record.action.instanceId}`, (o) => this.clients.coordination.createNamespacedLease({ namespace: this.namespace, body: withMicroTimes(this.toLease(record, undefined)) }, o));
          this.remember(record.action, created);
          return { status: 'claimed', record: fromLease(created) ?? { ...record, holder: this.identity }, resumedFrom: undefined, previousHolder: undefined };
        } catch (e) {
          if (isConflict(e)) continue; // created by another replica a moment ago: look again
          throw toDomainError(e, `create lease for ${record.action.instanceId}`, this.clients.authorizerWarmup);
        }
      }
      const holder = current.spec?.holderIdentity ?? '';
      if (holder && holder !== this.identity && !this.isExpired(current)) return { status: 'held-elsewhere', holder };
      const resumedFrom = current.metadata?.annotations?.[`${PREFIX}/phase`] as ActionPhase | undefined;
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
    const holder = lease.spec?.holderIdentity ?? '';
    return { holder, claimable: !holder || holder === this.identity || this.isExpired(lease) };
  }

  /**
   * Renews one action's Lease. Renewals of the same action are serialised (the periodic renewal and the one
   * before completing must not race each other into conflicts); a conflict is re-read and retried, and only a
   * Lease that another replica now holds, or that is gone, counts as lost.
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
   * Runs one write of an action's Lease after the ones before it: the periodic renewal and the one before
   * completing must not race each other into conflicts, and a notice's record must land before the release.
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
      if (phase) next.metadata = { ...next.metadata, annotations: { ...next.metadata?.annotations, [`${PREFIX}/phase`]: phase } };
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
    if (!lease || lease.spec?.holderIdentity !== this.identity) return;
    const next = structuredClone(lease);
    next.spec = { ...next.spec, holderIdentity: '', renewTime: new Date(0) };
    try {
      await this.replace(next, signal);
    } catch (e) {
      if (!isConflict(e) && !isNotFound(e)) throw toDomainError(e, `hand over lease for ${action.instanceId}`, this.clients.authorizerWarmup);
    }
  }

  async listOrphans(signal: AbortSignal): Promise<ActionRecord[]> {
    let list: k8s.V1LeaseList;
    try {
      list = await this.clients.call(signal, 'list leases', (o) => this.clients.coordination.listNamespacedLease({ namespace: this.namespace, labelSelector: `app.kubernetes.io/managed-by=lifecycle-manager,${PREFIX}/queue=${this.queueLabel}` }, o));
    } catch (e) {
      throw toDomainError(e, 'list leases', this.clients.authorizerWarmup);
    }
    return list.items
      .filter((l) => this.isExpired(l) || l.spec?.holderIdentity === this.identity || !l.spec?.holderIdentity)
      .flatMap((l) => {
        const record = fromLease(l);
        if (record && l.metadata?.name) this.names.set(actionKey(record.action), l.metadata.name);
        return record ? [record] : [];
      });
  }

  leaseDurationFor(heartbeatTimeoutSeconds: number): number {
    return Math.max(MIN_LEASE_DURATION_SECONDS, Math.min(this.leaseDurationSeconds, Math.floor(heartbeatTimeoutSeconds / 3)));
  }

  private isExpired(lease: k8s.V1Lease): boolean {
    const renewed = lease.spec?.renewTime ? new Date(lease.spec.renewTime).getTime() : 0;
    return renewed + (lease.spec?.leaseDurationSeconds ?? this.leaseDurationSeconds) * 1000 < this.now();
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

  private remember(action: LifecycleAction, lease: k8s.V1Lease): void {
    this.seen.set(actionKey(action), lease);
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
        labels: { ...MANAGED_BY, [`${PREFIX}/queue`]: this.queueLabel },
        annotations: {
          [`${PREFIX}/action`]: JSON.stringify({ asg: a.autoScalingGroupName, hook: a.lifecycleHookName, instanceId: a.instanceId, token: a.lifecycleActionToken, requestId: a.requestId, messageTime: a.messageTime?.toISOString(), format: a.format }),
          [`${PREFIX}/phase`]: record.phase,
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

/**
 * Lease times are MicroTime: the apiserver wants exactly six fractional digits ("…05.123000Z"), while the client
 * would serialize a Date with three and get a 400. Strings pass through the client untouched.
 */
function withMicroTimes(lease: k8s.V1Lease): k8s.V1Lease {
  const micro = (t: Date | string | undefined): Date | undefined => {
    if (t === undefined) return undefined;
    const iso = (t instanceof Date ? t : new Date(t)).toISOString();
    return iso.replace(/\.(\d{3})Z$/u, '.$1000Z') as unknown as Date;
  };
  return { ...lease, spec: { ...lease.spec, acquireTime: micro(lease.spec?.acquireTime), renewTime: micro(lease.spec?.renewTime) } };
}

/**
 * `lifecycle-<instance-id>-<8 hex digits of sha256(group/hook)>`: one Lease per action, readable by instance id
 * (`kubectl get lease | grep i-0123…`), distinct for two hooks on one instance.
 */
export function leaseName(action: Pick<LifecycleAction, 'autoScalingGroupName' | 'lifecycleHookName' | 'instanceId'>): string {
  const digest = createHash('sha256').update(`${action.autoScalingGroupName}/${action.lifecycleHookName}`).digest('hex').slice(0, 8);
  return `lifecycle-${action.instanceId}-${digest}`;
}

function fromLease(lease: k8s.V1Lease): ActionRecord | undefined {
  const ann = lease.metadata?.annotations ?? {};
  try {
    const a = JSON.parse(ann[`${PREFIX}/action`] ?? '') as Record<string, string | undefined>;
    if (!a['asg'] || !a['hook'] || !a['instanceId'] || !a['token']) return undefined;
    return {
      action: {
        autoScalingGroupName: a['asg'], lifecycleHookName: a['hook'], instanceId: a['instanceId'], lifecycleActionToken: a['token'],
        requestId: a['requestId'] ?? a['token'], messageTime: a['messageTime'] ? new Date(a['messageTime']) : undefined,
        format: (a['format'] as ActionRecord['action']['format']) ?? 'autoscaling',
      },
      phase: (ann[`${PREFIX}/phase`] as ActionPhase | undefined) ?? 'verified',
      receivedAtMs: Date.parse(ann[`${PREFIX}/received-at`] ?? '') || Date.now(),
      deadlineMs: Date.parse(ann[`${PREFIX}/deadline`] ?? '') || Date.now() + 3600_000,
      heartbeatTimeoutSeconds: Number(ann[`${PREFIX}/heartbeat-timeout-seconds`] ?? 300),
      holder: lease.spec?.holderIdentity ?? '',
    };
  } catch {
    return undefined;
  }
}
