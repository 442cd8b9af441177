/**
 * The small interfaces the domain needs from the outside world. Adapters in src/aws and src/kube implement them
 * with the SDKs; unit tests implement them in memory. Every call takes the AbortSignal it must honour.
 */
import type { AutoScalingInstance, LifecycleAction, LifecycleActionResult, LifecycleHook } from './action.js';

export interface AutoScalingPort {
  /** undefined when Auto Scaling does not know the instance (never was, or already gone). */
  describeInstance(instanceId: string, signal: AbortSignal): Promise<AutoScalingInstance | undefined>;
  /** undefined when the group has no hook of that name. */
  describeLifecycleHook(autoScalingGroupName: string, lifecycleHookName: string, signal: AbortSignal): Promise<LifecycleHook | undefined>;
  /** Throws ActionGoneError when AWS has no pending action. */
  recordHeartbeat(action: LifecycleAction, signal: AbortSignal): Promise<void>;
  /** 'gone' when AWS has no pending action any more (completed elsewhere, or expired). */
  completeAction(action: LifecycleAction, result: LifecycleActionResult, signal: AbortSignal): Promise<'completed' | 'gone'>;
}

export interface QueueMessage {
  readonly messageId: string;
  readonly body: string;
  readonly receiptHandle: string;
  readonly receiveCount: number;
  /** When SQS first received it (epoch ms). */
  readonly sentAtMs: number | undefined;
  /** When SQS first handed it to a consumer, any delivery (ApproximateFirstReceiveTimestamp, epoch ms). */
  readonly firstReceivedAtMs: number | undefined;
}

export interface QueuePort {
  receive(request: { maxMessages: number; waitTimeSeconds: number; visibilityTimeoutSeconds: number }, signal: AbortSignal): Promise<QueueMessage[]>;
  delete(receiptHandle: string, signal: AbortSignal): Promise<void>;
  changeVisibility(receiptHandle: string, visibilityTimeoutSeconds: number, signal: AbortSignal): Promise<void>;
}

/** What the drain needs to know about a Node. */
export interface NodeInfo {
  readonly name: string;
  readonly uid: string;
  readonly instanceId: string;
  /** The Ready condition's status: 'True' | 'False' | 'Unknown' (or 'Unknown' when absent). */
  readonly ready: string;
  readonly privateIps: readonly string[];
  readonly unschedulable: boolean;
  readonly creationTimestamp: Date | undefined;
  /** Of its labels, those the service sets with the cordon (the exclude-from-load-balancer ones); no other is kept. */
  readonly labels?: Readonly<Record<string, string>>;
}

/** Finds Nodes by EC2 instance id from a watch-backed cache: no LIST per event. */
export interface NodeDirectory {
  findByInstanceId(instanceId: string): NodeInfo | undefined;
  /**
   * Resolves when a Node for the instance appears (and, given `accept`, once the index holds a version of it that
   * `accept` takes, e.g. Ready); rejects when the signal aborts.
   */
  waitForInstance(instanceId: string, signal: AbortSignal, accept?: (node: NodeInfo) => boolean): Promise<NodeInfo>;
  /**
   * Asks the apiserver itself, not the watch cache, with a consistent read (a paginated LIST of the Nodes):
   * undefined only when the apiserver has no Node for the instance.
   */
  readFresh(instanceId: string, signal: AbortSignal): Promise<NodeInfo | undefined>;
}

/** What EC2 says about an instance (DescribeInstances). */
export interface InstanceFacts {
  readonly instanceId: string;
  readonly vpcId: string | undefined;
}

export interface InstancesPort {
  /** undefined when EC2 does not know the instance. */
  describeInstance(instanceId: string, signal: AbortSignal): Promise<InstanceFacts | undefined>;
}

/** An object an Event can be about (a Node, a pod's owner). */
export interface ObjectRef {
  readonly apiVersion: string;
  readonly kind: string;
  readonly name: string;
  readonly uid: string;
  /** undefined for cluster-scoped objects. */
  readonly namespace?: string;
}

export interface PodInfo {
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
  readonly phase: string;
  readonly ownerKinds: readonly string[];
  readonly isMirror: boolean;
  readonly deletionTimestamp: Date | undefined;
  readonly terminationGracePeriodSeconds: number | undefined;
  readonly podIps: readonly string[];
  readonly labels?: Readonly<Record<string, string>>;
  readonly priorityClassName?: string | undefined;
  readonly priority?: number | undefined;
  /** The owner reference marked `controller` (ReplicaSet, StatefulSet, Job…); undefined for a bare pod. */
  readonly controller?: ObjectRef | undefined;
  /** True when the pod has an emptyDir volume (local storage lost with the node). */
  readonly hasLocalStorage?: boolean;
  /** The PersistentVolumeClaims its volumes name. */
  readonly claimNames?: readonly string[];
  /** Its Ready condition is True. */
  readonly ready?: boolean;
}

/** A label selector (metav1.LabelSelector). */
export interface LabelSelectorInfo {
  readonly matchLabels: Readonly<Record<string, string>>;
  readonly matchExpressions: readonly { readonly key: string; readonly operator: string; readonly values: readonly string[] }[];
}

/** A PodDisruptionBudget as the drain plan needs it. */
export interface BudgetInfo {
  readonly namespace: string;
  readonly name: string;
  /** undefined (a null selector) selects no pod; an empty one every pod of its namespace. */
  readonly selector: LabelSelectorInfo | undefined;
  readonly disruptionsAllowed: number;
}

/** A VolumeAttachment: a volume attached to a node by the attach/detach controller (CSI). */
export interface VolumeAttachmentInfo {
  readonly name: string;
  readonly nodeName: string;
  /** The PersistentVolume it attaches; undefined for inline volumes. */
  readonly persistentVolumeName: string | undefined;
}

/** Volume attachments by node, from a watch (no LIST per poll). */
export interface VolumeAttachmentDirectory {
  /** Whether the index has been filled (before that, forNode knows nothing). */
  readonly isSynced: boolean;
  forNode(nodeName: string): VolumeAttachmentInfo[];
  /** Resolves at the next change to the node's attachments; rejects when the signal aborts. */
  changed(nodeName: string, signal: AbortSignal): Promise<void>;
}

export type EvictionOutcome = 'evicted' | 'gone' | 'blocked-by-pdb' | 'refused';

/**
 * What an eviction request got. `refused`: the apiserver said no for this pod for a reason other than a
 * PodDisruptionBudget — an admission webhook or policy denying it, a namespace being terminated, a budget the
 * eviction subresource rejects (disruptionsAllowed negative): the pod is retried, the others keep draining.
 */
export type EvictionResult =
  | { readonly outcome: 'evicted' | 'gone' | 'blocked-by-pdb' }
  | { readonly outcome: 'refused'; readonly reason: string; readonly namespaceTerminating: boolean };
export type DeletionOutcome = 'deleted' | 'gone';

/** The Kubernetes operations a drain makes. Transient API failures surface as TransientError. */
/** A taint on a Node (--taint-node): under our own key, so it is never confused with anyone else's. */
export interface NodeTaint {
  readonly key: string;
  readonly value: string;
  readonly effect: 'NoSchedule' | 'PreferNoSchedule' | 'NoExecute';
}

export interface ClusterPort {
  getNode(name: string, signal: AbortSignal): Promise<NodeInfo | undefined>;
  /** Adds (or updates) the taint with `taint.key`, leaving every other taint as it is. */
  taint(name: string, taint: NodeTaint, signal: AbortSignal): Promise<'tainted' | 'gone'>;
  /** Removes the taint with `key`, leaving every other taint as it is. */
  untaint(name: string, key: string, signal: AbortSignal): Promise<'removed' | 'absent' | 'gone'>;
  /** Idempotently marks the node unschedulable and sets the given labels. */
  cordon(name: string, labels: Readonly<Record<string, string>>, signal: AbortSignal): Promise<'cordoned' | 'gone'>;
  listPodsOnNode(name: string, signal: AbortSignal): Promise<PodInfo[]>;
  /**
   * Keeps the node's pods watched until `until` aborts (the action working on the node ends): listPodsOnNode then
   * answers from the watch, with no API call while it is current. Idempotent; several actions share one watch.
   */
  watchPodsOnNode?(name: string, until: AbortSignal): void;
  evictPod(pod: PodInfo, signal: AbortSignal): Promise<EvictionResult>;
  deletePod(pod: PodInfo, gracePeriodSeconds: number, signal: AbortSignal): Promise<DeletionOutcome>;
  deleteNode(name: string, signal: AbortSignal): Promise<DeletionOutcome>;
  /** Every PodDisruptionBudget in the cluster (the drain plan; all pages). */
  listDisruptionBudgets(signal: AbortSignal): Promise<BudgetInfo[]>;
  /** The PersistentVolume a claim is bound to; undefined when it is unbound or gone. */
  claimVolumeName(namespace: string, claimName: string, signal: AbortSignal): Promise<string | undefined>;
}

export type EventType = 'Normal' | 'Warning';

export interface NodeEvent {
  readonly reason: string;
  readonly type: EventType;
  readonly message: string;
  /** How many occurrences the one Event stands for (the Event's `count`); 1 when absent. */
  readonly count?: number;
}

/**
 * Publishes Kubernetes Events on a Node. Fire and forget: a failure to publish is logged, never thrown. What it
 * returns (if anything) resolves once the Event was created or given up on, and never rejects: for a caller that wants
 * an Event out before it goes on (the drain plan's warnings before the first eviction).
 */
export interface EventRecorder {
  publish(node: Pick<NodeInfo, 'name' | 'uid'>, event: NodeEvent): void | Promise<void>;
  /** An Event about another object (a blocking pod's owner), in that object's namespace. */
  publishOn?(object: ObjectRef, event: NodeEvent): void | Promise<void>;
}

/** Load-balancer deregistration seam (its own module); the workflow calls it when --with-deregister. */
export interface LoadBalancerDeregistrar {
  /** Deregisters the instance (and its pods' IPs) everywhere and waits until connections drained. */
  deregister(request: DeregistrationRequest, signal: AbortSignal): Promise<DeregistrationReport>;
}

export interface DeregistrationRequest {
  readonly instanceId: string;
  readonly autoScalingGroupName: string;
  readonly node: NodeInfo | undefined;
  readonly podIps: readonly string[];
  /**
   * The instance's VPC, asked for only when some ip target group holds one of its addresses (an address alone
   * does not prove a target is this instance's: VPCs reuse address ranges). Only target groups in that VPC are
   * candidates; undefined (EC2 could not tell) leaves ip targets alone.
   */
  readonly instanceVpc: () => Promise<string | undefined>;
  /** false (--deregistration-timeout 0): deregister without waiting for the load balancers to let go. */
  readonly awaitDrained: boolean;
  /** --dry-run: find the load balancers and report them (`found`), change nothing. */
  readonly dryRun?: boolean;
  readonly log: import('../observability/logger.js').Logger;
}

export interface DeregistrationReport {
  readonly targetGroups: number;
  readonly classicLoadBalancers: number;
  /** What did not finish (a load balancer that failed, one still draining when the step's time ran out, a search that failed). */
  readonly problems: readonly { readonly what: string; readonly failureClass: import('./step.js').FailureClass }[];
  /** True when the step's time ran out before every load balancer reported the targets gone. */
  readonly timedOut: boolean;
  /** With `dryRun`: what would have been left ("target group web (i-1:80)", "classic load balancer legacy"). */
  readonly found?: readonly string[];
}

/** Action records and ownership across replicas: their own module, re-exported here. */
export type { ActionPhase, ActionRecord, ActionStore, ClaimResult, RecordState, ReplicaLiveness } from './ownershipPorts.js';

/** Whether a group is this cluster's; when not, the clusters its tags name (none when it is untagged). */
export interface GroupScope {
  readonly ours: boolean;
  readonly clusters: readonly string[];
}

/** Decides whether an Auto Scaling group belongs to this cluster (--cluster-name); shared queues need it. */
export interface ClusterScope {
  /** undefined when no cluster name is configured (every group is ours). */
  readonly clusterName: string | undefined;
  scopeOf(autoScalingGroupName: string, signal: AbortSignal): Promise<GroupScope>;
}

/** What a webhook is told about an action (--webhook-events). */
export type NoticeEvent = 'received' | 'drained' | 'completed' | 'failed';
export const NOTICE_EVENTS: readonly NoticeEvent[] = ['received', 'drained', 'completed', 'failed'];

/** One notice about an action, as the action stood when the event happened. */
export interface ActionNotice {
  readonly event: NoticeEvent;
  readonly action: LifecycleAction;
  readonly nodeName: string | undefined;
  /** completed, failed: the result the action was completed with; undefined when it could not be completed. */
  readonly result: LifecycleActionResult | undefined;
  /** failed: why. */
  readonly cause: string | undefined;
  /** The steps that failed and were worked around so far. */
  readonly degradedSteps: readonly string[];
  /** Seconds since the action was first received. */
  readonly elapsedSeconds: number;
  readonly atMs: number;
  /** --dry-run: the plan (nothing was changed); its one notice is `received`. undefined otherwise. */
  readonly dryRunPlan: string | undefined;
}

/**
 * Sends notices (webhooks). Fire and forget: `send` returns at once and never throws; delivery, retries and
 * failures (logs, metrics) are the notifier's. `flush` waits, bounded by its signal, for what is being delivered.
 */
export interface Notifier {
  wants(event: NoticeEvent): boolean;
  send(notice: ActionNotice): void;
  flush(signal: AbortSignal): Promise<void>;
}

/**
 * Which notices of an action were sent, recorded with the action's durable state (its Lease) before each is sent,
 * so that no replica — nor this one after a restart — sends one twice. `already-recorded`: sent, or being sent when
 * its sender died (not sent again); `not-owned`: this replica does not hold the action (any more).
 */
export interface NoticeLedger {
  recordNotice(action: LifecycleAction, event: NoticeEvent, signal: AbortSignal): Promise<'recorded' | 'already-recorded' | 'not-owned'>;
}
