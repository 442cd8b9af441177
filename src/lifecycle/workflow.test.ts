import { describe, expect, it } from 'vitest';
import { counter, messageBody, node, pod, setup } from '../../test/unit/fakes/workflow.js';
import { AccessDeniedError, TransientError } from './errors.js';

describe('LifecycleWorkflow', () => {
  it('takes a verified action from message to CONTINUE: cordon, deregister, drain, delete the Node, complete, delete the message', async () => {
    const t = setup();
    t.cluster.pods = [pod('a')];
    const [m, lease] = t.message();
    await t.workflow.handleMessage(m, lease);
    expect(t.cluster.log).toEqual(['cordon n1', 'list pdbs', 'deregister', 'cordon n1', 'evict a', 'delete node n1']);
    expect(t.autoScaling.completions).toEqual(['CONTINUE']);
    expect(t.autoScaling.heartbeats).toBeGreaterThanOrEqual(1);
    expect(lease.settled).toEqual(['deleted']);
    expect(t.events.map((e) => e.reason)).toEqual(['LifecycleHookReceived', 'NodeDrainSucceeded', 'NodeDeleteSucceeded', 'LifecycleHookProcessed']);
  });

  it('heartbeats a verified action before its Lease is claimed: a slow apiserver does not keep the hook from hearing from us', async () => {
    const t = setup({ withStore: true });
    let claimed: () => void = () => {};
    const claim = t.store.claim.bind(t.store);
    t.store.claim = async (record) => { await new Promise<void>((r) => { claimed = r; }); return claim(record); };
    const [m, lease] = t.message();
    const handled = t.workflow.handleMessage(m, lease);
    await new Promise((r) => setTimeout(r, 20));
    expect(t.autoScaling.heartbeats).toBe(1); // the claim has not answered yet
    claimed();
    await handled;
    expect(t.autoScaling.completions).toEqual(['CONTINUE']);
  });

  it('sends no heartbeat for an action it does not verify, nor with --dry-run', async () => {
    const forged = setup({ withStore: true });
    forged.autoScaling.state = 'InService';
    await forged.workflow.handleMessage(...forged.message());
    const dryRun = setup({ config: { dryRun: true } });
    await dryRun.workflow.handleMessage(...dryRun.message());
    expect([forged.autoScaling.heartbeats, dryRun.autoScaling.heartbeats]).toEqual([0, 0]);
  });

  it('never touches a node AWS is not terminating: the forged message is dropped and deleted', async () => {
    const t = setup();
    t.autoScaling.state = 'InService';
    const [m, lease] = t.message();
    await t.workflow.handleMessage(m, lease);
    expect(t.cluster.log).toEqual([]);
    expect(t.autoScaling.completions).toEqual([]);
    expect(lease.settled).toEqual(['deleted']);
  });

  it.each(['Warmed:Terminating:Wait', 'Warmed:Pending:Wait'])('drains and completes an instance in %s like any other', async (state) => {
    const t = setup();
    t.autoScaling.state = state;
    t.cluster.pods = [pod('a')];
    const [m, lease] = t.message();
    await t.workflow.handleMessage(m, lease);
    expect(t.cluster.log).toContain('evict a');
    expect(t.autoScaling.completions).toEqual(['CONTINUE']);
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

  it('drains and deletes the Node once for an instance with two termination hooks, and completes each hook', async () => {
    const t = setup();
    t.cluster.pods = [pod('a')];
    const [m1, l1] = t.message('m1');
    const [m2, l2] = t.message('m2', messageBody({ LifecycleHookName: 'second-hook', LifecycleActionToken: 'tok-2', RequestId: 'req-2' }));
    await Promise.all([t.workflow.handleMessage(m1, l1), t.workflow.handleMessage(m2, l2)]);
    expect(t.autoScaling.completions).toEqual(['CONTINUE', 'CONTINUE']);
    expect(t.cluster.log.filter((c) => c.startsWith('evict') || c.startsWith('delete node'))).toEqual(['evict a', 'delete node n1']);
    expect(t.events.filter((e) => e.reason === 'NodeDrainSucceeded' || e.reason === 'NodeDeleteSucceeded').map((e) => e.reason)).toEqual(['NodeDrainSucceeded', 'NodeDeleteSucceeded']);
    expect([l1.settled, l2.settled]).toEqual([['deleted'], ['deleted']]);
  });

  describe('a failure in one step never skips a safer step after it', () => {
    it('drains the node anyway when load-balancer deregistration fails, then completes CONTINUE and says what failed', async () => {
      const t = setup();
      t.cluster.pods = [pod('a')];
      t.deregistrar.error = new AccessDeniedError('elasticloadbalancing:DeregisterTargets', 'AccessDenied: not authorized');
      const [m, lease] = t.message();
      await t.workflow.handleMessage(m, lease);
      expect(t.cluster.log).toEqual(['cordon n1', 'list pdbs', 'deregister', 'cordon n1', 'evict a', 'delete node n1']);
      expect(t.autoScaling.completions).toEqual(['CONTINUE']);
      const failed = t.events.find((e) => e.reason === 'LifecycleStepFailed');
      expect(failed?.message).toBe('step deregister failed (forbidden): access denied calling elasticloadbalancing:DeregisterTargets: AccessDenied: not authorized; continuing with the next step; the node is still drained before the instance is released');
      expect(t.events.find((e) => e.reason === 'LifecycleHookProcessed')?.message).toMatch(/steps that failed and were worked around: deregister/u);
      expect(await counter(t.metrics.stepFailures, { step: 'deregister', class: 'forbidden', policy: 'degrade-and-continue' })).toBe(1);
    });

    it('gives the load-balancer wait only its own share: a wait that never ends leaves the drain its whole budget', async () => {
      const t = setup({ config: { maxTimeToProcessSeconds: 60, budget: { nodeJoinTimeoutSeconds: 0, deregistrationTimeoutSeconds: 0.3, drainTimeoutSeconds: 1, drainRetries: 1, drainIntervalSeconds: 0, maxTerminationGracePeriodSeconds: 0 } } });
      t.cluster.pods = [pod('a')];
      t.deregistrar.hang = true;
      const [m, lease] = t.message();
      await t.workflow.handleMessage(m, lease);
      expect(t.cluster.log).toEqual(['cordon n1', 'list pdbs', 'deregister', 'cordon n1', 'evict a', 'delete node n1']);
      expect(t.autoScaling.completions).toEqual(['CONTINUE']);
      expect(t.events.find((e) => e.reason === 'LifecycleStepFailed')?.message).toMatch(/^step deregister failed \(timeout\): load balancer deregistration incomplete: target group tg: still draining/u);
    });

    it('completes CONTINUE when only deleting the Node failed (the pods are gone), reporting it', async () => {
      const t = setup();
      t.cluster.failDeleteNode = new AccessDeniedError('delete node n1', 'nodes "n1" is forbidden');
      const [m, lease] = t.message();
      await t.workflow.handleMessage(m, lease);
      expect(t.autoScaling.completions).toEqual(['CONTINUE']);
      expect(t.events.map((e) => e.reason)).toContain('NodeDeleteFailed');
      expect(t.events.find((e) => e.reason === 'LifecycleStepFailed')?.message).toMatch(/^step delete_node failed \(forbidden\)/u);
      expect(lease.settled).toEqual(['deleted']);
    });

    it('abandons, and keeps the Node, when the drain itself fails', async () => {
      const t = setup();
      t.cluster.pods = [pod('stuck')];
      t.cluster.refuseEvictions = true;
      const [m, lease] = t.message();
      await t.workflow.handleMessage(m, lease);
      expect(t.autoScaling.completions).toEqual(['ABANDON']);
      expect(t.cluster.log).not.toContain('delete node n1');
      expect(t.events.find((e) => e.reason === 'LifecycleHookFailed')?.message).toMatch(/drain: failed to drain node: global timeout reached: 1s; 1 pods still on the node: ns\/stuck \(eviction refused: denied\)/u);
      expect(lease.settled).toEqual(['deleted']);
    });

    it('leaves the hook to its DefaultResult when AWS refuses the completion, instead of retrying forever', async () => {
      const t = setup({ withStore: true });
      t.autoScaling.completeError = new AccessDeniedError('autoscaling:CompleteLifecycleAction', 'AccessDenied');
      const [m, lease] = t.message();
      await t.workflow.handleMessage(m, lease);
      expect(t.autoScaling.completions).toEqual([]);
      expect(t.events.find((e) => e.reason === 'LifecycleStepFailed')?.message).toMatch(/^step complete failed \(forbidden\).*the hook will end with its DefaultResult/u);
      expect(lease.settled).toEqual(['deleted']);
      expect(t.store.records.size).toBe(0);
    });

    it('does not send a completed action back to the queue when its Lease cannot be deleted', async () => {
      const t = setup({ withStore: true });
      t.store.releaseError = new TransientError('delete lease: HTTP 503', false);
      const [m, lease] = t.message();
      await t.workflow.handleMessage(m, lease);
      expect(t.autoScaling.completions).toEqual(['CONTINUE']);
      expect(lease.settled).toEqual(['deleted']);
    });
  });

  describe('no Node is proven, not assumed', () => {
    const neverJoins = { findByInstanceId: () => undefined, waitForInstance: (_id: string, signal: AbortSignal) => new Promise<never>((_, reject) => signal.addEventListener('abort', () => reject(signal.reason))) };

    it('completes CONTINUE without draining only after a fresh read from the apiserver finds no Node', async () => {
      let freshReads = 0;
      const t = setup({ nodes: { ...neverJoins, readFresh: async () => { freshReads++; return undefined; } } });
      const [m, lease] = t.message();
      await t.workflow.handleMessage(m, lease);
      expect(freshReads).toBe(1);
      expect(t.cluster.log).toEqual(['deregister']);
      expect(t.autoScaling.completions).toEqual(['CONTINUE']);
      expect(lease.settled).toEqual(['deleted']);
    });

    it('drains the Node a fresh read finds although the watch never reported it', async () => {
      const t = setup({ nodes: { ...neverJoins, readFresh: async () => node } });
      t.cluster.pods = [pod('a')];
      const [m, lease] = t.message();
      await t.workflow.handleMessage(m, lease);
      expect(t.cluster.log).toContain('evict a');
      expect(t.cluster.log).toContain('delete node n1');
      expect(t.autoScaling.completions).toEqual(['CONTINUE']);
    });

    it('abandons, loudly, when it cannot find out whether the instance has a Node', async () => {
      const t = setup({ nodes: { ...neverJoins, readFresh: async () => { throw new AccessDeniedError('list nodes', 'nodes is forbidden'); } } });
      const [m, lease] = t.message();
      await t.workflow.handleMessage(m, lease);
      expect(t.autoScaling.completions).toEqual(['ABANDON']);
      expect(await counter(t.metrics.stepFailures, { step: 'await_node', class: 'forbidden', policy: 'abandon' })).toBe(1);
      expect(lease.settled).toEqual(['deleted']);
    });
  });

  it('on shutdown stops before completing and hands the message back to the queue at once', async () => {
    const t = setup({ config: { nodeJoinTimeoutSeconds: 60 }, nodes: { findByInstanceId: () => undefined, waitForInstance: (_id, signal) => new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason))) } });
    const [m, lease] = t.message();
    const handled = t.workflow.handleMessage(m, lease);
    await new Promise((r) => setTimeout(r, 20));
    t.shutdown.abort();
    await handled;
    expect(t.autoScaling.completions).toEqual([]);
    expect(lease.settled).toEqual(['released 0']);
  });

  it('releases, never deletes, a message for a group that belongs to another cluster', async () => {
    const t = setup({ deps: { scope: { clusterName: 'blue', scopeOf: async () => ({ ours: false, clusters: ['green'] }) } } });
    const [m, lease] = t.message();
    await t.workflow.handleMessage(m, lease);
    expect(t.cluster.log).toEqual([]);
    expect(lease.settled).toEqual(['released 1']);
  });

  it('leaves a message whose verification keeps failing for a later retry, touching nothing', async () => {
    const t = setup();
    t.autoScaling.describeLifecycleHook = async () => { throw new AccessDeniedError('autoscaling:DescribeLifecycleHooks', 'AccessDenied'); };
    const [m, lease] = t.message();
    await t.workflow.handleMessage(m, lease);
    expect(lease.settled).toEqual(['released 30']);
    expect(t.autoScaling.completions).toEqual([]);
    expect(t.cluster.log).toEqual([]);
    // An unverified message publishes nothing on any Node.
    expect(t.events).toEqual([]);
    expect(await counter(t.metrics.messages, { outcome: 'left_for_redelivery', reason: 'verify_forbidden' })).toBe(1);
  });

  it('resumes a recorded action at its phase: a drain already past deregistration is not deregistered again', async () => {
    const t = setup({ withStore: true });
    t.cluster.pods = [pod('a')];
    const [m, lease] = t.message();
    const action = { autoScalingGroupName: 'g', lifecycleHookName: 'h', instanceId: node.instanceId, lifecycleActionToken: 'tok-1', requestId: 'req-1', messageTime: undefined, format: 'autoscaling' as const };
    const firstReceivedAtMs = Date.now() - 100_000;
    t.store.records.set('g/h/i-0123456789abcdef0', { action, phase: 'draining', receivedAtMs: firstReceivedAtMs, deadlineMs: firstReceivedAtMs + 3_600_000, heartbeatTimeoutSeconds: 60, holder: 'dead-replica' });
    await t.workflow.handleMessage(m, lease);
    expect(t.cluster.log).toEqual(['cordon n1', 'evict a', 'delete node n1']);
    expect(t.autoScaling.completions).toEqual(['CONTINUE']);
    // --max-time-to-process counts from the first receipt, kept in the record across the hand-over.
    expect((await t.metrics.eventDuration.get()).values.find((v) => v.metricName?.endsWith('_sum'))?.value).toBeGreaterThanOrEqual(100);
  });

  it('keeps its copy of a message another replica is working on, and deletes it once that replica finished', async () => {
    const t = setup({ withStore: true });
    const action = { autoScalingGroupName: 'g', lifecycleHookName: 'h', instanceId: node.instanceId, lifecycleActionToken: 'tok-1', requestId: 'req-1', messageTime: undefined, format: 'autoscaling' as const };
    t.store.otherHolder = 'replica-b';
    t.store.records.set('g/h/i-0123456789abcdef0', { action, phase: 'draining', receivedAtMs: Date.now(), deadlineMs: Date.now() + 3_600_000, heartbeatTimeoutSeconds: 60, holder: 'replica-b' });
    const [m, lease] = t.message();
    const handled = t.workflow.handleMessage(m, lease);
    await new Promise((r) => setTimeout(r, 3_000));
    expect(lease.settled).toEqual([]); // not bounced back to the queue while the other replica works
    t.store.records.clear(); // replica-b completed the action and deleted its Lease
    await handled;
    expect(lease.settled).toEqual(['deleted']);
    expect(t.autoScaling.completions).toEqual([]);
    expect(t.cluster.log).toEqual([]);
  });

  it('accepts a message body that names the time it was sent only through SQS, and drops one older than 48 h', async () => {
    const t = setup();
    const [m, lease] = t.message('m1', messageBody({ Time: undefined }));
    await t.workflow.handleMessage({ ...m, sentAtMs: Date.now() - 49 * 3600_000 }, lease);
    expect(lease.settled).toEqual(['deleted']);
    expect(await counter(t.metrics.messages, { outcome: 'deleted', reason: 'expired' })).toBe(1);
  });

  describe('drain plan, tiers and volumes', () => {
    it('warns about what will block the drain before the first eviction: one Event on the Node, one per owner, a metric', async () => {
      const t = setup();
      const bare = { ...pod('bare'), controller: undefined, ownerKinds: [] };
      t.cluster.pods = [{ ...pod('web-1'), labels: { app: 'web' } }, { ...pod('web-2'), labels: { app: 'web' } }, bare];
      t.cluster.budgets = [{ namespace: 'ns', name: 'web', selector: { matchLabels: { app: 'web' }, matchExpressions: [] }, disruptionsAllowed: 0 }];
      const [m, lease] = t.message();
      // The budget allows nothing now; it lets go a little later, so the drain itself succeeds.
      setTimeout(() => { t.cluster.budgets = []; }, 50);
      await t.workflow.handleMessage(m, lease);
      expect(t.cluster.log.indexOf('list pdbs')).toBeLessThan(t.cluster.log.findIndex((l) => l.startsWith('evict')));
      const warning = t.events.find((e) => e.reason === 'DrainPlanWarning');
      expect(warning?.type).toBe('Warning');
      expect(warning?.message).toBe('drain of node n1 (its instance is terminating): 3 pods to evict (3 non-critical); 3 problems: pod ns/web-1: PodDisruptionBudget ns/web allows 0 disruptions now; pod ns/web-2: PodDisruptionBudget ns/web allows 0 disruptions now; pod ns/bare: no controller owns it: once evicted it is not recreated anywhere');
      expect(t.events.map((e) => e.reason).indexOf('DrainPlanWarning')).toBeLessThan(t.events.map((e) => e.reason).indexOf('NodeDrainSucceeded'));
      expect(t.ownerEvents.map((o) => `${o.object.kind}/${o.object.name}: ${o.event.message}`)).toEqual([
        'ReplicaSet/web-1-rs: node n1 is being drained for an instance termination; pod ns/web-1: PodDisruptionBudget ns/web allows 0 disruptions now',
        'ReplicaSet/web-2-rs: node n1 is being drained for an instance termination; pod ns/web-2: PodDisruptionBudget ns/web allows 0 disruptions now',
        'Pod/bare: node n1 is being drained for an instance termination; pod ns/bare: no controller owns it: once evicted it is not recreated anywhere',
      ]);
      expect(await counter(t.metrics.drainPlanProblems, { kind: 'pdb-allows-no-disruption' })).toBe(2);
      expect(await counter(t.metrics.drainPlanProblems, { kind: 'no-controller' })).toBe(1);
      expect(t.autoScaling.completions).toEqual(['CONTINUE']);
    });

    it('a plan that cannot be made is reported and the drain runs all the same', async () => {
      const t = setup();
      t.cluster.pods = [pod('a')];
      t.cluster.listDisruptionBudgets = async () => { throw new AccessDeniedError('list poddisruptionbudgets: HTTP 403: forbidden'); };
      const [m, lease] = t.message();
      await t.workflow.handleMessage(m, lease);
      expect(t.cluster.log).toContain('evict a');
      expect(t.autoScaling.completions).toEqual(['CONTINUE']);
      expect(await counter(t.metrics.stepFailures, { step: 'plan_drain', class: 'forbidden', policy: 'degrade-and-continue' })).toBe(1);
    });

    it('resumed in phase draining with --deregister-order after-drain, still deregisters (the order of this configuration counts)', async () => {
      const t = setup({ withStore: true, config: { deregisterOrder: 'after-drain' } });
      t.cluster.pods = [pod('a')];
      const [m, lease] = t.message();
      const action = { autoScalingGroupName: 'g', lifecycleHookName: 'h', instanceId: node.instanceId, lifecycleActionToken: 'tok-1', requestId: 'req-1', messageTime: undefined, format: 'autoscaling' as const };
      t.store.records.set('g/h/i-0123456789abcdef0', { action, phase: 'draining', receivedAtMs: Date.now(), deadlineMs: Date.now() + 3_600_000, heartbeatTimeoutSeconds: 60, holder: 'dead-replica' });
      await t.workflow.handleMessage(m, lease);
      expect(t.cluster.log).toEqual(['cordon n1', 'evict a', 'deregister', 'delete node n1']);
    });
  });
});
