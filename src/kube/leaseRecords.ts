/**
 * How lifecycle-manager's coordination.k8s.io/v1 Leases are written and read: the labels every one carries, the
 * action record's annotations, MicroTime timestamps and the liveness rule shared by the action store and the orphan
 * scan. Two kinds share the labels: one action record per action (`lifecycle-<instance>-<hash>`) and one replica
 * Lease per serve process (`lifecycle-manager-replica-<identity>`), told apart by `lifecycle-manager.io/kind`.
 */
import { createHash } from 'node:crypto';
import type * as k8s from '@kubernetes/client-node';
import type { LifecycleAction } from '../lifecycle/action.js';
import type { ActionPhase, ActionRecord } from '../lifecycle/ports.js';

export const PREFIX = 'lifecycle-manager.io';
export const MANAGED_BY = { 'app.kubernetes.io/managed-by': 'lifecycle-manager' } as const;
/** `replica` or `action`; an action record written before replica Leases existed has no such label. */
export const KIND_LABEL = `${PREFIX}/kind`;
export const QUEUE_LABEL = `${PREFIX}/queue`;
/** The webhook notices recorded for the action, comma separated (received,drained,…). */
export const NOTICES = `${PREFIX}/notices`;
export const PHASE = `${PREFIX}/phase`;

/** The queue's name as a label value (at most 63 characters). */
export function queueLabelOf(queueName: string): string {
  return queueName.length <= 63 ? queueName : createHash('sha256').update(queueName).digest('hex').slice(0, 40);
}

/** The label selector of every Lease of one queue's replicas, both kinds. */
export function queueSelector(queueLabel: string): string {
  return `app.kubernetes.io/managed-by=lifecycle-manager,${QUEUE_LABEL}=${queueLabel}`;
}

export function isReplicaLease(lease: k8s.V1Lease): boolean {
  return lease.metadata?.labels?.[KIND_LABEL] === 'replica';
}

export function noticesOf(lease: k8s.V1Lease): string[] {
  return (lease.metadata?.annotations?.[NOTICES] ?? '').split(',').filter(Boolean);
}

/** Epoch ms of the Lease's renewTime (0 when it has none). */
export function renewedAtMs(lease: k8s.V1Lease): number {
  return lease.spec?.renewTime ? new Date(lease.spec.renewTime).getTime() : 0;
}

/**
 * When the Lease's own renewal runs out: renewTime + leaseDurationSeconds. For an action record written by a release
 * that renewed every action's Lease, that alone says whether its holder is alive.
 */
export function ownRenewalEndsAtMs(lease: k8s.V1Lease, fallbackDurationSeconds: number): number {
  return renewedAtMs(lease) + (lease.spec?.leaseDurationSeconds ?? fallbackDurationSeconds) * 1000;
}

/**
 * Whether `record` (an action record) is held by a live replica other than `identity`: its own renewal has not run
 * out (records renewed per action by an older release, or just written), or its holder's replica Lease was renewed
 * within the record's lease duration (and within the replica Lease's own). `replica` is the holder's replica Lease,
 * undefined when it has none.
 */
export function heldElsewhere(record: k8s.V1Lease, identity: string, replica: k8s.V1Lease | undefined, nowMs: number, fallbackDurationSeconds: number): boolean {
  const holder = record.spec?.holderIdentity ?? '';
  if (!holder || holder === identity) return false;
  if (ownRenewalEndsAtMs(record, fallbackDurationSeconds) > nowMs) return true;
  if (!replica || replica.spec?.holderIdentity !== holder) return false;
  const seconds = Math.min(record.spec?.leaseDurationSeconds ?? fallbackDurationSeconds, replica.spec?.leaseDurationSeconds ?? fallbackDurationSeconds);
  return renewedAtMs(replica) + seconds * 1000 > nowMs;
}

/**
 * Lease times are MicroTime: the apiserver wants exactly six fractional digits ("…05.123000Z"), while the client
 * would serialize a Date with three and get a 400. Strings pass through the client untouched.
 */
export function withMicroTimes(lease: k8s.V1Lease): k8s.V1Lease {
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

/**
 * `lifecycle-manager-replica-<identity>`: the replica's identity (its pod name) when it is a valid name already,
 * else its sanitized form with 8 hex digits of its sha256, so two identities never share a Lease.
 */
export function replicaLeaseName(identity: string): string {
  const clean = identity.toLowerCase().replace(/[^a-z0-9.-]+/gu, '-').slice(0, 200).replace(/[^a-z0-9]+$/u, '');
  if (clean === identity && clean !== '') return `lifecycle-manager-replica-${clean}`;
  const digest = createHash('sha256').update(identity).digest('hex').slice(0, 8);
  return `lifecycle-manager-replica-${clean ? `${clean}-` : ''}${digest}`;
}

/** The action record a Lease holds; undefined for a replica Lease or a Lease whose annotations are not an action's. */
export function fromLease(lease: k8s.V1Lease): ActionRecord | undefined {
  if (isReplicaLease(lease)) return undefined;
  const ann = lease.metadata?.annotations ?? {};
  try {
    const a = JSON.parse(ann[`${PREFIX}/action`] ?? '') as Record<string, string | boolean | undefined>;
    const text = (key: string): string | undefined => (typeof a[key] === 'string' ? a[key] : undefined);
    const [asg, hook, instanceId, token] = [text('asg'), text('hook'), text('instanceId'), text('token')];
    if (!asg || !hook || !instanceId || !token) return undefined;
    const messageTime = text('messageTime');
    return {
      action: {
        autoScalingGroupName: asg, lifecycleHookName: hook, instanceId, lifecycleActionToken: token,
        requestId: text('requestId') ?? token, messageTime: messageTime ? new Date(messageTime) : undefined,
        format: (text('format') as ActionRecord['action']['format'] | undefined) ?? 'autoscaling',
        // A Lease written before launch hooks existed has no such field: a termination.
        ...(a['launch'] === true ? { launch: true } : {}),
      },
      phase: (ann[PHASE] as ActionPhase | undefined) ?? 'verified',
      receivedAtMs: Date.parse(ann[`${PREFIX}/received-at`] ?? '') || Date.now(),
      deadlineMs: Date.parse(ann[`${PREFIX}/deadline`] ?? '') || Date.now() + 3600_000,
      heartbeatTimeoutSeconds: Number(ann[`${PREFIX}/heartbeat-timeout-seconds`] ?? 300),
      holder: lease.spec?.holderIdentity ?? '',
    };
  } catch {
    return undefined;
  }
}

/** The annotations recording an action (including its token), as fromLease reads them. */
export function actionAnnotation(a: LifecycleAction): string {
  return JSON.stringify({ asg: a.autoScalingGroupName, hook: a.lifecycleHookName, instanceId: a.instanceId, token: a.lifecycleActionToken, requestId: a.requestId, messageTime: a.messageTime?.toISOString(), format: a.format, ...(a.launch ? { launch: true } : {}) });
}
