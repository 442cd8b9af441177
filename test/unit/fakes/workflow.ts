/**
 * In-memory fakes of the workflow's ports, for its unit tests.
 */
import { NodeDrainer } from '../../../src/drain/drainer.js';
import { silentLogger } from '../../../src/observability/logger.js';
import { Metrics } from '../../../src/observability/metrics.js';
import { type AutoScalingInstance, type LifecycleAction, type LifecycleActionResult, type LifecycleHook, actionKey } from '../../../src/lifecycle/action.js';
import { ActionRegistry } from '../../../src/lifecycle/actionRegistry.js';
import type {
  ActionPhase, ActionRecord, ActionStore, ObjectRef, AutoScalingPort, BudgetInfo, ClaimResult, ClusterPort, DeregistrationReport, EvictionResult,
  LoadBalancerDeregistrar, NodeDirectory, NodeEvent, NodeInfo, PodInfo, QueueMessage, RecordState, ReplicaLiveness,
} from '../../../src/lifecycle/ports.js';
import { InstanceWork } from '../../../src/lifecycle/instanceWork.js';
import { Semaphore } from '../../../src/lifecycle/semaphore.js';
import { SharedQueueWatch } from '../../../src/lifecycle/sharedQueue.js';
import type { StepConfig } from '../../../src/lifecycle/stepDeps.js';
import { LifecycleWorkflow, type WorkflowDeps } from '../../../src/lifecycle/workflow.js';

export const instanceId = 'i-0123456789abcdef0';
export const node: NodeInfo = { name: 'n1', uid: 'u1', instanceId, ready: 'True', privateIps: ['172.31.0.1'], unschedulable: false, creationTimestamp: undefined };

export function messageBody(extra: Record<string, unknown> = {}): string {
  return JSON.stringify({
    LifecycleTransition: 'autoscaling:EC2_INSTANCE_TERMINATING', AutoScalingGroupName: 'g', LifecycleHookName: 'h',
    EC2InstanceId: instanceId, LifecycleActionToken: 'tok-1', RequestId: 'req-1', Time: new Date().toISOString(), ...extra,
  });
}

export class FakeAutoScaling implements AutoScalingPort {
  state = 'Terminating:Wait';
  hook: LifecycleHook | undefined = { autoScalingGroupName: 'g', lifecycleHookName: 'h', lifecycleTransition: 'autoscaling:EC2_INSTANCE_TERMINATING', heartbeatTimeoutSeconds: 60, globalTimeoutSeconds: 6000, defaultResult: 'ABANDON' };
  completions: LifecycleActionResult[] = [];
  heartbeats = 0;
  completeError: Error | undefined;
  async describeInstance(id: string): Promise<AutoScalingInstance | undefined> { return { instanceId: id, autoScalingGroupName: 'g', lifecycleState: this.state }; }
  async describeLifecycleHook() { return this.hook; }
  async recordHeartbeat() { this.heartbeats++; }
  async completeAction(_a: LifecycleAction, r: LifecycleActionResult) {
    if (this.completeError) throw this.completeError;
    this.completions.push(r);
    return 'completed' as const;
  }
}

/** A cluster whose pods are gone once evicted; records what was done, in order. */
export class FakeCluster implements ClusterPort {
  pods: PodInfo[] = [];
  readonly log: string[] = [];
  failDeleteNode: Error | undefined;
  refuseEvictions = false;
  async getNode() { return node; }
  async cordon(name: string) { this.log.push(`cordon ${name}`); return 'cordoned' as const; }
  taints = new Map<string, string>();
  async taint(name: string, t: { key: string; effect: string }) { this.log.push(`taint ${name} ${t.key}:${t.effect}`); this.taints.set(t.key, t.effect); return 'tainted' as const; }
  async untaint(name: string, key: string) { this.log.push(`untaint ${name} ${key}`); return this.taints.delete(key) ? 'removed' as const : 'absent' as const; }
  async listPodsOnNode() { return this.pods; }
  /** The pod watches held (watchPodsOnNode), with the signal that ends each. */
  readonly podWatches: Array<{ name: string; until: AbortSignal }> = [];
  watchPodsOnNode(name: string, until: AbortSignal) { this.podWatches.push({ name, until }); }
  async evictPod(p: PodInfo): Promise<EvictionResult> {
    this.log.push(`evict ${p.name}`);
    if (this.refuseEvictions) return { outcome: 'refused', reason: 'denied', namespaceTerminating: false };
    this.pods = this.pods.filter((x) => x.uid !== p.uid);
    return { outcome: 'evicted' };
  }
  async deletePod(p: PodInfo) { this.log.push(`delete pod ${p.name}`); this.pods = this.pods.filter((x) => x.uid !== p.uid); return 'deleted' as const; }
  budgets: BudgetInfo[] = [];
  async listDisruptionBudgets() { this.log.push('list pdbs'); return this.budgets; }
  /** `namespace/claim` → the PersistentVolume it is bound to. */
  claims = new Map<string, string>();
  async claimVolumeName(namespace: string, claim: string) { return this.claims.get(`${namespace}/${claim}`); }
  async deleteNode(name: string) {
    if (this.failDeleteNode) throw this.failDeleteNode;
    this.log.push(`delete node ${name}`);
    return 'deleted' as const;
  }
}

export function pod(name: string): PodInfo {
  return {
    namespace: 'ns', name, uid: `uid-${name}`, phase: 'Running', ownerKinds: ['ReplicaSet'], isMirror: false, deletionTimestamp: undefined, terminationGracePeriodSeconds: 30, podIps: [],
    controller: { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: `${name}-rs`, uid: `rs-${name}`, namespace: 'ns' },
  };
}

/** A deregistrar scripted by the test: answers with `report`, fails with `error`, or waits until its signal aborts. */
export class FakeDeregistrar implements LoadBalancerDeregistrar {
  report: DeregistrationReport = { targetGroups: 1, classicLoadBalancers: 0, problems: [], timedOut: false };
  error: Error | undefined;
  /** Never answers by itself (a 3600 s deregistration delay): the step's share of the deadline ends it. */
  hang = false;
  calls = 0;
  constructor(private readonly cluster: FakeCluster) {}
  async deregister(_r: unknown, signal: AbortSignal): Promise<DeregistrationReport> {
    this.calls++;
    this.cluster.log.push('deregister');
    if (this.error) throw this.error;
    if (this.hang) {
      await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
      return { targetGroups: 0, classicLoadBalancers: 0, problems: [{ what: 'target group tg: still draining', failureClass: 'timeout' }], timedOut: true };
    }
    return this.report;
  }
}

/** A replica liveness in memory: `fresh` says whether it vouches; `lapses` is set by the test. */
export class FakeLiveness implements ReplicaLiveness {
  fresh = true;
  lapses = 0;
  /** The lease durations required now, one entry per action. */
  readonly required: number[] = [];
  require(seconds: number): () => void {
    this.required.push(seconds);
    return () => { this.required.splice(this.required.indexOf(seconds), 1); };
  }
  vouchesFor(): boolean { return this.fresh; }
}

/** An ActionStore in memory: one record per action key, held by `identity` or by `otherHolder`. */
export class FakeStore implements ActionStore {
  readonly identity = 'me';
  readonly leaseDurationSeconds = 15;
  readonly liveness = new FakeLiveness();
  /** Every record write: the phase it recorded, or '-' for a write without one. */
  readonly writes: string[] = [];
  records = new Map<string, ActionRecord>();
  otherHolder: string | undefined;
  releases = 0;
  releaseError: Error | undefined;
  handOvers = 0;
  async claim(record: Omit<ActionRecord, 'holder'>): Promise<ClaimResult> {
    const key = actionKey(record.action);
    const current = this.records.get(key);
    if (current && this.otherHolder && current.holder === this.otherHolder) return { status: 'held-elsewhere', holder: this.otherHolder };
    const next: ActionRecord = { ...record, ...(current ? { receivedAtMs: current.receivedAtMs, deadlineMs: current.deadlineMs, phase: current.phase } : {}), holder: this.identity };
    this.records.set(key, next);
    return { status: 'claimed', record: next, resumedFrom: current?.phase, previousHolder: current?.holder };
  }
  async inspect(action: LifecycleAction): Promise<RecordState> {
    const current = this.records.get(actionKey(action));
    return current ? { holder: current.holder, claimable: current.holder !== this.otherHolder } : 'absent';
  }
  vouchedFor(action: LifecycleAction): boolean {
    return this.liveness.fresh && this.records.get(actionKey(action))?.holder === this.identity;
  }
  async renew(action: LifecycleAction, phase: ActionPhase | undefined): Promise<'renewed' | 'lost'> {
    this.writes.push(phase ?? '-');
    const current = this.records.get(actionKey(action));
    if (!current || current.holder !== this.identity) return 'lost';
    if (phase) this.records.set(actionKey(action), { ...current, phase });
    return 'renewed';
  }
  async release(action: LifecycleAction) {
    this.releases++;
    if (this.releaseError) throw this.releaseError;
    this.records.delete(actionKey(action));
  }
  async handOver() { this.handOvers++; }
  async listOrphans() { return []; }
  leaseDurationFor() { return 5; }
}

export class FakeMessage {
  settled: string[] = [];
  constructor(readonly messageId: string) {}
  async delete() { this.settled.push('deleted'); }
  async release(delay: number) { this.settled.push(`released ${delay}`); }
}

export interface Setup {
  readonly workflow: LifecycleWorkflow;
  readonly autoScaling: FakeAutoScaling;
  readonly cluster: FakeCluster;
  readonly deregistrar: FakeDeregistrar;
  readonly store: FakeStore;
  readonly events: NodeEvent[];
  /** Events published on other objects than the Node (the owners of pods that block a drain). */
  readonly ownerEvents: Array<{ object: ObjectRef; event: NodeEvent }>;
  readonly metrics: Metrics;
  readonly shutdown: AbortController;
  message(id?: string, body?: string): [QueueMessage, FakeMessage];
}

export function setup(options: {
  config?: Partial<StepConfig>;
  nodes?: Partial<NodeDirectory>;
  withStore?: boolean;
  deps?: Partial<WorkflowDeps>;
} = {}): Setup {
  const autoScaling = new FakeAutoScaling();
  const cluster = new FakeCluster();
  const deregistrar = new FakeDeregistrar(cluster);
  const store = new FakeStore();
  const events: NodeEvent[] = [];
  const ownerEvents: Array<{ object: ObjectRef; event: NodeEvent }> = [];
  const shutdown = new AbortController();
  const metrics = new Metrics({ defaultMetrics: false });
  const nodes: NodeDirectory = { findByInstanceId: () => node, waitForInstance: async () => node, readFresh: async () => node, ...options.nodes };
  const config: StepConfig = {
    verifyLifecycleState: true, maxTimeToProcessSeconds: 3600, deregisterOrder: 'before-drain', withDeregister: true,
    nodeJoinTimeoutSeconds: 0.05, nodeLabels: {}, retryLaterSeconds: 30, cordonOnly: false, taint: undefined, dryRun: false,
    budget: { nodeJoinTimeoutSeconds: 0.05, deregistrationTimeoutSeconds: 600, drainTimeoutSeconds: 1, drainRetries: 1, drainIntervalSeconds: 0, maxTerminationGracePeriodSeconds: 0, volumeDetachTimeoutSeconds: 0 },
    ...options.config,
  };
  const workflow = new LifecycleWorkflow({
    config, queueHasRedrivePolicy: false, store: options.withStore ? store : undefined,
    scope: { clusterName: undefined, scopeOf: async () => ({ ours: true, clusters: [] }) },
    autoScaling, instances: undefined, nodes, cluster,
    drainer: new NodeDrainer(cluster, { drainTimeoutSeconds: config.budget.drainTimeoutSeconds, drainTimeoutUnknownSeconds: 1, drainIntervalSeconds: 0, drainRetries: config.budget.drainRetries, maxTerminationGracePeriodSeconds: 0, nodeLabels: {}, pollIntervalMs: 5 }),
    deregistrar, volumes: undefined, events: { publish: (_n, e) => { events.push(e); }, publishOn: (o, e) => { ownerEvents.push({ object: o, event: e }); } }, metrics, log: silentLogger, drainSlots: new Semaphore(1), instanceWork: new InstanceWork(),
    registry: new ActionRegistry(), shutdown: shutdown.signal,
    sharedQueue: new SharedQueueWatch({ queueName: 'q', clusterName: undefined, maxReceiveCount: undefined, log: silentLogger }),
    ...options.deps,
  });
  const message = (id = 'm1', text = messageBody()): [QueueMessage, FakeMessage] => [
    { messageId: id, body: text, receiptHandle: `rh-${id}`, receiveCount: 1, sentAtMs: Date.now(), firstReceivedAtMs: Date.now() }, new FakeMessage(id)];
  return { workflow, autoScaling, cluster, deregistrar, store, events, ownerEvents, metrics, shutdown, message };
}

/** The sum of a counter's samples matching `labels`. */
export async function counter(metric: { get(): Promise<{ values: Array<{ value: number; labels: Record<string, string | number> }> }> }, labels: Record<string, string> = {}): Promise<number> {
  const { values } = await metric.get();
  return values.filter((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x)).reduce((s, v) => s + v.value, 0);
}
