import { describe, expect, it } from 'vitest';
import { NodeDrainer } from '../drain/drainer.js';
import { silentLogger } from '../observability/logger.js';
import { Metrics } from '../observability/metrics.js';
import type { AutoScalingInstance, LifecycleAction, LifecycleActionResult, LifecycleHook } from './action.js';
import { ActionRegistry } from './actionRegistry.js';
import type { AutoScalingPort, ClusterPort, NodeDirectory, NodeEvent, NodeInfo, PodInfo, QueueMessage } from './ports.js';
import { Semaphore } from './semaphore.js';
import { LifecycleWorkflow, type WorkflowConfig } from './workflow.js';

const instanceId = 'i-0123456789abcdef0';
const body = JSON.stringify({
  LifecycleTransition: 'autoscaling:EC2_INSTANCE_TERMINATING', AutoScalingGroupName: 'g', LifecycleHookName: 'h',
  EC2InstanceId: instanceId, LifecycleActionToken: 'tok-1', RequestId: 'req-1', Time: new Date().toISOString(),
});
const node: NodeInfo = { name: 'n1', uid: 'u1', instanceId, ready: 'True', privateIps: [], unschedulable: false, creationTimestamp: undefined };

class FakeAutoScaling implements AutoScalingPort {
  state = 'Terminating:Wait';
  hook: LifecycleHook | undefined = { autoScalingGroupName: 'g', lifecycleHookName: 'h', lifecycleTransition: 'autoscaling:EC2_INSTANCE_TERMINATING', heartbeatTimeoutSeconds: 60, globalTimeoutSeconds: 6000, defaultResult: 'ABANDON' };
  completions: LifecycleActionResult[] = [];
  heartbeats = 0;
  async describeInstance(id: string): Promise<AutoScalingInstance | undefined> { return { instanceId: id, autoScalingGroupName: 'g', lifecycleState: this.state }; }
  async describeLifecycleHook() { return this.hook; }
  async recordHeartbeat() { this.heartbeats++; }
  async completeAction(_a: LifecycleAction, r: LifecycleActionResult) { this.completions.push(r); return 'completed' as const; }
}

class FakeCluster implements ClusterPort {
  pods: PodInfo[] = [];
  deletedNodes: string[] = [];
  cordoned: string[] = [];
  failDeleteNode = false;
  async getNode() { return node; }
  async cordon(name: string) { this.cordoned.push(name); return 'cordoned' as const; }
  async listPodsOnNode() { return this.pods; }
  async evictPod(p: PodInfo) { this.pods = this.pods.filter((x) => x.uid !== p.uid); return 'evicted' as const; }
  async deletePod() { return 'deleted' as const; }
  async deleteNode(name: string) {
    if (this.failDeleteNode) throw new Error('nodes "n1" is forbidden');
    this.deletedNodes.push(name);
    return 'deleted' as const;
  }
}

class FakeMessage {
  settled: string[] = [];
  constructor(readonly messageId: string) {}
  async delete() { this.settled.push('deleted'); }
  async release(delay: number) { this.settled.push(`released ${delay}`); }
  close() {}
}

function setup(overrides: Partial<WorkflowConfig> = {}, nodes: NodeDirectory = { findByInstanceId: () => node, waitForInstance: async () => node }, joinSeconds = 0.05) {
  const autoScaling = new FakeAutoScaling();
  const cluster = new FakeCluster();
  const events: NodeEvent[] = [];
  const shutdown = new AbortController();
  const workflow = new LifecycleWorkflow({
    config: { verifyLifecycleState: true, maxTimeToProcessSeconds: 3600, deregisterOrder: 'before-drain', queueHasRedrivePolicy: false, retryLaterSeconds: 30, ...overrides },
    withDeregister: false, nodeJoinTimeoutSeconds: joinSeconds, nodeLabels: {}, store: undefined, scope: { clusterName: undefined, isOurs: async () => true },
    autoScaling, nodes, cluster,
    drainer: new NodeDrainer(cluster, { drainTimeoutSeconds: 1, drainTimeoutUnknownSeconds: 1, drainIntervalSeconds: 0, drainRetries: 1, maxTerminationGracePeriodSeconds: 0, nodeLabels: {}, pollIntervalMs: 5 }),
    deregistrar: undefined, events: { publish: (_n, e) => events.push(e) }, metrics: new Metrics({ defaultMetrics: false }),
    log: silentLogger, drainSlots: new Semaphore(1), registry: new ActionRegistry(), shutdown: shutdown.signal,
  });
  const message = (id = 'm1', text = body): [QueueMessage, FakeMessage] => [{ messageId: id, body: text, receiptHandle: `rh-${id}`, receiveCount: 1, sentAtMs: Date.now() }, new FakeMessage(id)];
  return { workflow, autoScaling, cluster, events, shutdown, message };
}

describe('LifecycleWorkflow', () => {
  it('takes a verified action from message to CONTINUE: cordon, drain, delete the Node, complete, delete the message', async () => {
    const t = setup();
    const [m, lease] = t.message();
    await t.workflow.handleMessage(m, lease);
    expect(t.cluster.cordoned).toEqual(['n1', 'n1']); // at once on receipt, and again by the drain (idempotent)
    expect(t.cluster.deletedNodes).toEqual(['n1']); // node deleted only after the drain
    expect(t.autoScaling.completions).toEqual(['CONTINUE']);
    expect(t.autoScaling.heartbeats).toBeGreaterThanOrEqual(1);
    expect(lease.settled).toEqual(['deleted']);
    expect(t.events.map((e) => e.reason)).toEqual(['LifecycleHookReceived', 'NodeDrainSucceeded', 'NodeDeleteSucceeded', 'LifecycleHookProcessed']);
  });

  it('never touches a node AWS is not terminating: the forged message is dropped and deleted', async () => {
    const t = setup();
    t.autoScaling.state = 'InService';
    const [m, lease] = t.message();
    await t.workflow.handleMessage(m, lease);
    expect(t.cluster.cordoned).toEqual([]);
    expect(t.autoScaling.completions).toEqual([]);
    expect(lease.settled).toEqual(['deleted']);
  });

  it('lets a second message for an action in flight join it: one drain, one completion, both messages deleted', async () => {
    const t = setup();
    const [m1, l1] = t.message('m1');
    const [m2, l2] = t.message('m2');
    await Promise.all([t.workflow.handleMessage(m1, l1), t.workflow.handleMessage(m2, l2)]);
    expect(t.autoScaling.completions).toEqual(['CONTINUE']);
    expect(l1.settled).toEqual(['deleted']);
    expect(l2.settled).toEqual(['deleted']);
  });

  it('abandons when a step fails after verification, and says why in a Warning event', async () => {
    const t = setup();
    t.cluster.failDeleteNode = true;
    const [m, lease] = t.message();
    await t.workflow.handleMessage(m, lease);
    expect(t.autoScaling.completions).toEqual(['ABANDON']);
    expect(t.events.find((e) => e.reason === 'LifecycleHookFailed')?.message).toMatch(/failed to delete the node: nodes "n1" is forbidden/u);
    expect(lease.settled).toEqual(['deleted']);
  });

  it('completes CONTINUE when the instance never registers a Node within the join window', async () => {
    const t = setup({}, { findByInstanceId: () => undefined, waitForInstance: (_id, signal) => new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason))) });
    const [m, lease] = t.message();
    await t.workflow.handleMessage(m, lease);
    expect(t.cluster.cordoned).toEqual([]);
    expect(t.autoScaling.completions).toEqual(['CONTINUE']);
    expect(lease.settled).toEqual(['deleted']);
  });

  it('on shutdown stops before completing and hands the message back to the queue at once', async () => {
    const slow = setup({}, { findByInstanceId: () => undefined, waitForInstance: (_id, signal) => new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason))) }, 60);
    const [m, lease] = slow.message();
    const handled = slow.workflow.handleMessage(m, lease);
    await new Promise((r) => setTimeout(r, 20));
    slow.shutdown.abort();
    await handled;
    expect(slow.autoScaling.completions).toEqual([]);
    expect(lease.settled).toEqual(['released 0']);
  });

  it('releases, never deletes, a message for a group that belongs to another cluster', async () => {
    const t = setup();
    const workflow = new LifecycleWorkflow({ ...(t.workflow as unknown as { deps: ConstructorParameters<typeof LifecycleWorkflow>[0] }).deps, scope: { clusterName: 'blue', isOurs: async () => false } });
    const [m, lease] = t.message();
    await workflow.handleMessage(m, lease);
    expect(t.cluster.cordoned).toEqual([]);
    expect(lease.settled).toEqual(['released 1']);
  });

  it('leaves a message whose verification hit a transient error for a later retry instead of deleting it', async () => {
    const t = setup();
    t.autoScaling.describeLifecycleHook = async () => { throw new (await import('./errors.js')).TransientError('Rate exceeded', true); };
    const [m, lease] = t.message();
    await t.workflow.handleMessage(m, lease);
    expect(lease.settled).toEqual(['released 30']);
    expect(t.autoScaling.completions).toEqual([]);
  });
});
