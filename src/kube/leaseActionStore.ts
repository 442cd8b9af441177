import { createHash } from 'node:crypto';
import type * as k8s from '@kubernetes/client-node';
import type { LifecycleAction } from '../lifecycle/action.js';
import { TransientError } from '../lifecycle/errors.js';
import type { ActionPhase, ActionRecord, ActionStore, ClaimResult } from '../lifecycle/ports.js';
import type { KubeClients } from './apiClients.js';
import { isConflict, isNotFound, toDomainError } from './errors.js';

const PREFIX = 'lifecycle-manager.io';
const MANAGED_BY = { 'app.kubernetes.io/managed-by': 'lifecycle-manager' };
const MIN_LEASE_DURATION_SECONDS = 5;

/**
 * Durable per-action state: one coordination.k8s.io/v1 Lease per instance in the service's namespace
 * (`kubectl get leases -l app.kubernetes.io/managed-by=lifecycle-manager`). `holderIdentity` is the replica that
 * owns the action; annotations carry the action (including its token), its phase and deadlines. Every write uses
 * the resourceVersion last read, so two replicas can never both believe they own an action.
 */
export class LeaseActionStore implements ActionStore {
  private readonly seen = new Map<string, k8s.V1Lease>();
  private readonly renewing = new Map<string, Promise<'renewed' | 'lost'>>();
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
          this.remember(record.action, await this.clients.coordination.createNamespacedLease({ namespace: this.namespace, body: withMicroTimes(this.toLease(record, undefined)) }, this.clients.options(signal)));
          return { status: 'claimed', resumedFrom: undefined, previousHolder: undefined };
        } catch (e) {
          if (isConflict(e)) continue; // created by another replica a moment ago: look again
          throw toDomainError(e, `create lease for ${record.action.instanceId}`, this.clients.authorizerWarmup);
        }
      }
      const holder = current.spec?.holderIdentity ?? '';
      if (holder && holder !== this.identity && !this.isExpired(current)) return { status: 'held-elsewhere', holder };
      const resumedFrom = current.metadata?.annotations?.[`${PREFIX}/phase`] as ActionPhase | undefined;
      try {
        this.remember(record.action, await this.replace(this.toLease({ ...record, phase: resumedFrom ?? record.phase }, current), signal));
        return { status: 'claimed', resumedFrom, previousHolder: holder || undefined };
      } catch (e) {
        if (!isConflict(e)) throw toDomainError(e, `take over lease for ${record.action.instanceId}`, this.clients.authorizerWarmup);
      }
    }
    const holder = (await this.read(record.action, signal))?.spec?.holderIdentity ?? 'another replica';
    return { status: 'held-elsewhere', holder };
  }

  /**
   * Renews one action's Lease. Renewals of the same action are serialised (the periodic renewal and the one
   * before completing must not race each other into conflicts); a conflict is re-read and retried, and only a
   * Lease that another replica now holds, or that is gone, counts as lost.
   */
  renew(action: LifecycleAction, phase: ActionPhase | undefined, signal: AbortSignal): Promise<'renewed' | 'lost'> {
    const previous = this.renewing.get(action.instanceId) ?? Promise.resolve();
    const next = previous.catch(() => undefined).then(() => this.renewNow(action, phase, signal));
    this.renewing.set(action.instanceId, next);
    void next.finally(() => { if (this.renewing.get(action.instanceId) === next) this.renewing.delete(action.instanceId); }).catch(() => undefined);
    return next;
  }

  private async renewNow(action: LifecycleAction, phase: ActionPhase | undefined, signal: AbortSignal): Promise<'renewed' | 'lost'> {
    let lease = this.seen.get(action.instanceId) ?? (await this.read(action, signal));
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

  async release(action: LifecycleAction, signal: AbortSignal): Promise<void> {
    this.seen.delete(action.instanceId);
    try {
      await this.clients.coordination.deleteNamespacedLease({ name: leaseName(action.instanceId), namespace: this.namespace }, this.clients.options(signal));
    } catch (e) {
      if (!isNotFound(e)) throw toDomainError(e, `delete lease for ${action.instanceId}`, this.clients.authorizerWarmup);
    }
  }

  async handOver(action: LifecycleAction, signal: AbortSignal): Promise<void> {
    const lease = this.seen.get(action.instanceId);
    this.seen.delete(action.instanceId);
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
      list = await this.clients.coordination.listNamespacedLease({ namespace: this.namespace, labelSelector: `app.kubernetes.io/managed-by=lifecycle-manager,${PREFIX}/queue=${this.queueLabel}` }, this.clients.options(signal));
    } catch (e) {
      throw toDomainError(e, 'list leases', this.clients.authorizerWarmup);
    }
    return list.items
      .filter((l) => this.isExpired(l) || l.spec?.holderIdentity === this.identity || !l.spec?.holderIdentity)
      .flatMap((l) => {
        const record = fromLease(l);
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

  private async read(action: LifecycleAction, signal: AbortSignal): Promise<k8s.V1Lease | undefined> {
    try {
      const lease = await this.clients.coordination.readNamespacedLease({ name: leaseName(action.instanceId), namespace: this.namespace }, this.clients.options(signal));
      this.remember(action, lease);
      return lease;
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw toDomainError(e, `read lease for ${action.instanceId}`, this.clients.authorizerWarmup);
    }
  }

  private replace(lease: k8s.V1Lease, signal: AbortSignal): Promise<k8s.V1Lease> {
    return this.clients.coordination.replaceNamespacedLease({ name: lease.metadata!.name!, namespace: this.namespace, body: withMicroTimes(lease) }, this.clients.options(signal));
  }

  private remember(action: LifecycleAction, lease: k8s.V1Lease): void {
    this.seen.set(action.instanceId, lease);
  }

  private toLease(record: Omit<ActionRecord, 'holder'>, current: k8s.V1Lease | undefined): k8s.V1Lease {
    const now = new Date(this.now());
    const takeover = current !== undefined && current.spec?.holderIdentity !== this.identity;
    const a = record.action;
    return {
      apiVersion: 'coordination.k8s.io/v1', kind: 'Lease',
      metadata: {
        name: leaseName(a.instanceId), namespace: this.namespace,
        ...(current?.metadata?.resourceVersion ? { resourceVersion: current.metadata.resourceVersion } : {}),
        labels: { ...MANAGED_BY, [`${PREFIX}/queue`]: this.queueLabel },
        annotations: {
          [`${PREFIX}/action`]: JSON.stringify({ asg: a.autoScalingGroupName, hook: a.lifecycleHookName, instanceId: a.instanceId, token: a.lifecycleActionToken, requestId: a.requestId, messageTime: a.messageTime?.toISOString(), format: a.format }),
          [`${PREFIX}/phase`]: record.phase,
          [`${PREFIX}/received-at`]: new Date(record.receivedAtMs).toISOString(),
          [`${PREFIX}/deadline`]: new Date(record.deadlineMs).toISOString(),
          [`${PREFIX}/heartbeat-timeout-seconds`]: String(record.heartbeatTimeoutSeconds),
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

export function leaseName(instanceId: string): string {
  return `lifecycle-${instanceId}`;
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
