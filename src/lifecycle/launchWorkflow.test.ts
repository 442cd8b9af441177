import { describe, expect, it } from 'vitest';
import { counter, instanceId, messageBody, node, pod, setup } from '../../test/unit/fakes/workflow.js';
import { LAUNCHING_TRANSITION, TERMINATING_TRANSITION } from './action.js';
import { ActionNotices } from './notices.js';
import type { ActionNotice, NodeDirectory, NodeInfo, Notifier, PodInfo } from './ports.js';
import { abortReason } from './sleep.js';
import type { LaunchSettings } from './stepDeps.js';

const launchBody = (extra: Record<string, unknown> = {}): string => messageBody({ LifecycleTransition: LAUNCHING_TRANSITION, LifecycleHookName: 'launch', ...extra });

/** A node index whose Node for the instance the test registers and makes Ready when it wants. */
class FakeNodes implements NodeDirectory {
  current: NodeInfo | undefined;
  private readonly waiters = new Set<(n: NodeInfo) => void>();
  findByInstanceId(): NodeInfo | undefined {
    return this.current;
  }
  async readFresh(): Promise<NodeInfo | undefined> { return this.current; }
  waitForInstance(_id: string, signal: AbortSignal, accept: (n: NodeInfo) => boolean = () => true): Promise<NodeInfo> {
    if (this.current && accept(this.current)) return Promise.resolve(this.current);
    return new Promise((resolve, reject) => {
      const waiter = (n: NodeInfo): void => {
        if (!accept(n)) return;
        this.waiters.delete(waiter);
        resolve(n);
      };
      this.waiters.add(waiter);
      signal.addEventListener('abort', () => { this.waiters.delete(waiter); reject(abortReason(signal)); }, { once: true });
    });
  }
  set(n: NodeInfo | undefined): void {
    this.current = n;
    if (n) for (const w of [...this.waiters]) w(n);
  }
}

function launchSetup(launch: Partial<LaunchSettings> = {}, nodes = new FakeNodes(), dryRun = false, deps: Parameters<typeof setup>[0]['deps'] = {}) {
  const t = setup({
    deps,
    config: { dryRun, launch: { timeoutSeconds: 5, waitForDaemonSets: false, pollIntervalMs: 10, ...launch } },
    nodes: { findByInstanceId: () => nodes.findByInstanceId(), readFresh: () => nodes.readFresh(), waitForInstance: (id, signal, accept) => nodes.waitForInstance(id, signal, accept) },
  });
  t.autoScaling.state = 'Pending:Wait';
  t.autoScaling.hook = { ...t.autoScaling.hook!, lifecycleHookName: 'launch', lifecycleTransition: LAUNCHING_TRANSITION };
  return { ...t, nodes };
}

const notReady: NodeInfo = { ...node, ready: 'False' };
const daemonPod = (name: string, ready: boolean): PodInfo => ({
  ...pod(name), ready, controller: { apiVersion: 'apps/v1', kind: 'DaemonSet', name: `${name}-ds`, uid: `ds-${name}`, namespace: 'ns' },
});

describe('launch lifecycle actions (--launch-hooks)', () => {
  it('completes CONTINUE once the Node is Ready, heartbeating meanwhile and changing nothing in the cluster', async () => {
    const t = launchSetup();
    t.nodes.set(notReady);
    const [m, lease] = t.message('m1', launchBody());
    const done = t.workflow.handleMessage(m, lease);
    await new Promise((r) => setTimeout(r, 50));
    expect(t.autoScaling.completions).toEqual([]);
    t.nodes.set(node);
    await done;
    expect(t.autoScaling.completions).toEqual(['CONTINUE']);
    expect(t.autoScaling.heartbeats).toBeGreaterThanOrEqual(1);
    expect(t.cluster.log).toEqual([]);
    expect(lease.settled).toEqual(['deleted']);
    expect(t.events.map((e) => [e.reason, e.type])).toEqual([['LaunchReady', 'Normal']]);
    expect(await counter(t.metrics.launches, { result: 'CONTINUE', reason: 'ready' })).toBe(1);
    expect(await counter(t.metrics.messages, { outcome: 'processed', reason: 'launch_continue' })).toBe(1);
    // Launches are not upstream's (termination) events.
    expect(await counter(t.metrics.successfulEvents)).toBe(0);
  });

  it('waits for a Node that has not registered yet', async () => {
    const t = launchSetup();
    const [m, lease] = t.message('m1', launchBody());
    const done = t.workflow.handleMessage(m, lease);
    await new Promise((r) => setTimeout(r, 30));
    t.nodes.set(notReady);
    await new Promise((r) => setTimeout(r, 30));
    expect(t.autoScaling.completions).toEqual([]);
    t.nodes.set(node);
    await done;
    expect(t.autoScaling.completions).toEqual(['CONTINUE']);
  });

  it('abandons, loudly, a launch whose Node stays Not Ready past --launch-timeout', async () => {
    const t = launchSetup({ timeoutSeconds: 0.2 });
    t.nodes.set(notReady);
    const [m, lease] = t.message('m1', launchBody());
    await t.workflow.handleMessage(m, lease);
    expect(t.autoScaling.completions).toEqual(['ABANDON']);
    expect(lease.settled).toEqual(['deleted']);
    expect(t.events.map((e) => [e.reason, e.type])).toEqual([['LifecycleStepFailed', 'Warning'], ['LaunchAbandoned', 'Warning']]);
    expect(t.events[0]!.message).toBe(`step await_node_ready failed (timeout): node n1 of instance ${instanceId} is not Ready 0.2s after the launch (--launch-timeout): its Ready condition is False; the launch will complete with ABANDON: Auto Scaling terminates the instance (and launches another)`);
    expect(t.events[1]!.message).toMatch(new RegExp(`^launch of instance ${instanceId} abandoned after [\\d.]+s: await_node_ready: node n1 .*; Auto Scaling terminates the instance$`, 'u'));
    expect(await counter(t.metrics.stepFailures, { step: 'await_node_ready', class: 'timeout', policy: 'abandon' })).toBe(1);
    expect(await counter(t.metrics.launches, { result: 'ABANDON', reason: 'node_not_ready' })).toBe(1);
    expect(await counter(t.metrics.messages, { outcome: 'processed', reason: 'launch_abandon' })).toBe(1);
  });

  it('abandons a launch whose instance never registers a Node (no Event: there is no Node to put it on)', async () => {
    const t = launchSetup({ timeoutSeconds: 0.1 });
    const [m, lease] = t.message('m1', launchBody());
    await t.workflow.handleMessage(m, lease);
    expect(t.autoScaling.completions).toEqual(['ABANDON']);
    expect(t.events).toEqual([]);
    expect(await counter(t.metrics.launches, { result: 'ABANDON', reason: 'no_node' })).toBe(1);
  });

  it('completes a launch into the warm pool (Warmed:Pending:Wait) CONTINUE at once, without looking for a Node', async () => {
    const t = launchSetup({ timeoutSeconds: 3600 });
    t.autoScaling.state = 'Warmed:Pending:Wait';
    const [m, lease] = t.message('m1', launchBody());
    await t.workflow.handleMessage(m, lease);
    expect(t.autoScaling.completions).toEqual(['CONTINUE']);
    expect(t.events).toEqual([]);
    expect(await counter(t.metrics.launches, { result: 'CONTINUE', reason: 'warm_pool' })).toBe(1);
  });

  describe('with --launch-wait-daemonsets', () => {
    it('waits for the DaemonSet pods on the Node to be Ready, not for other pods', async () => {
      const t = launchSetup({ waitForDaemonSets: true });
      t.nodes.set(node);
      t.cluster.pods = [daemonPod('cni', false), { ...pod('app'), ready: false }];
      const [m, lease] = t.message('m1', launchBody());
      const done = t.workflow.handleMessage(m, lease);
      await new Promise((r) => setTimeout(r, 60));
      expect(t.autoScaling.completions).toEqual([]);
      t.cluster.pods = [daemonPod('cni', true), { ...pod('app'), ready: false }];
      await done;
      expect(t.autoScaling.completions).toEqual(['CONTINUE']);
      expect(t.events.find((e) => e.reason === 'LaunchReady')?.message).toMatch(/is Ready, and so are its DaemonSet pods, after/u);
    });

    it('abandons when a DaemonSet pod is still not Ready at the bound, naming it', async () => {
      const t = launchSetup({ waitForDaemonSets: true, timeoutSeconds: 0.2 });
      t.nodes.set(node);
      t.cluster.pods = [daemonPod('cni', true), daemonPod('csi', false)];
      const [m, lease] = t.message('m1', launchBody());
      await t.workflow.handleMessage(m, lease);
      expect(t.autoScaling.completions).toEqual(['ABANDON']);
      expect(t.events[0]!.message).toMatch(/^step await_daemonsets failed \(timeout\): 1 of the 2 DaemonSet pods on node n1 are not Ready 0\.2s after the launch \(--launch-timeout\): ns\/csi \(Running\);/u);
      expect(await counter(t.metrics.launches, { result: 'ABANDON', reason: 'daemonsets_not_ready' })).toBe(1);
    });

    it('does not wait for DaemonSets once the Node itself failed', async () => {
      const t = launchSetup({ waitForDaemonSets: true, timeoutSeconds: 0.1 });
      t.nodes.set(notReady);
      const [m, lease] = t.message('m1', launchBody());
      await t.workflow.handleMessage(m, lease);
      expect(t.autoScaling.completions).toEqual(['ABANDON']);
      expect(await counter(t.metrics.stepFailures, { step: 'await_daemonsets' })).toBe(0);
    });
  });

  it('drops a launch message for a hook that is not a launch hook, or an instance that is not launching, touching nothing', async () => {
    const t = launchSetup();
    t.autoScaling.hook = { ...t.autoScaling.hook!, lifecycleTransition: TERMINATING_TRANSITION };
    const [m, lease] = t.message('m1', launchBody());
    await t.workflow.handleMessage(m, lease);
    const u = launchSetup();
    u.autoScaling.state = 'InService';
    const [m2, lease2] = u.message('m2', launchBody());
    await u.workflow.handleMessage(m2, lease2);
    expect([t.autoScaling.completions, u.autoScaling.completions]).toEqual([[], []]);
    expect([lease.settled, lease2.settled]).toEqual([['deleted'], ['deleted']]);
    expect(await counter(t.metrics.messages, { outcome: 'deleted', reason: 'not_a_launch_hook' })).toBe(1);
    expect(await counter(u.metrics.messages, { outcome: 'deleted', reason: 'instance_not_launching' })).toBe(1);
  });

  it('with --dry-run plans the launch from the node index and deletes the message: no wait, heartbeat or completion', async () => {
    const t = launchSetup({ timeoutSeconds: 3600 }, new FakeNodes(), true);
    t.nodes.set(notReady);
    const [m, lease] = t.message('m1', launchBody());
    await t.workflow.handleMessage(m, lease);
    expect(t.autoScaling.completions).toEqual([]);
    expect(t.autoScaling.heartbeats).toBe(0);
    expect(lease.settled).toEqual(['deleted']);
    expect(t.events.map((e) => [e.reason, e.message])).toEqual([['DryRunPlan', expect.stringMatching(/would wait up to 3600s for node n1 \(Ready now: False\) to be Ready, then complete CONTINUE/u)]]);
    expect(await counter(t.metrics.messages, { outcome: 'deleted', reason: 'dry_run' })).toBe(1);
  });

  it('without --launch-hooks deletes a launch message unprocessed, as before', async () => {
    const t = setup();
    const [m, lease] = t.message('m1', launchBody());
    await t.workflow.handleMessage(m, lease);
    expect(t.autoScaling.completions).toEqual([]);
    expect(t.autoScaling.heartbeats).toBe(0);
    expect(lease.settled).toEqual(['deleted']);
    expect(await counter(t.metrics.messages, { outcome: 'deleted', reason: 'launch_transition' })).toBe(1);
  });

  it('settles, without working on it, a launch found in a Lease while --launch-hooks is off', async () => {
    const t = setup({ withStore: true });
    const action = { autoScalingGroupName: 'g', lifecycleHookName: 'launch', instanceId, lifecycleActionToken: 't', requestId: 'r', messageTime: undefined, format: 'autoscaling' as const, launch: true };
    t.store.records.set(`g/launch/${instanceId}`, { action, phase: 'awaiting-node-ready', receivedAtMs: Date.now(), deadlineMs: Date.now() + 60_000, heartbeatTimeoutSeconds: 60, holder: '' });
    await t.workflow.resume(t.store.records.get(`g/launch/${instanceId}`)!);
    expect(t.autoScaling.completions).toEqual([]);
    expect(t.cluster.log).toEqual([]);
    expect(t.store.releases).toBe(1);
  });

  it('posts no webhook notice for a launch, Ready or abandoned (the notices are a termination\'s)', async () => {
    const sent: ActionNotice[] = [];
    const notifier: Notifier = { wants: () => true, send: (n) => { sent.push(n); }, flush: async () => undefined };
    const notices = new ActionNotices(notifier, undefined, setup().metrics);
    const ready = launchSetup({}, new FakeNodes(), false, { notices });
    ready.nodes.set(node);
    const [m1, l1] = ready.message('m1', launchBody());
    await ready.workflow.handleMessage(m1, l1);
    const abandoned = launchSetup({ timeoutSeconds: 0.1 }, new FakeNodes(), false, { notices });
    const [m2, l2] = abandoned.message('m2', launchBody());
    await abandoned.workflow.handleMessage(m2, l2);
    await notices.flush(new AbortController().signal);
    expect([ready.autoScaling.completions, abandoned.autoScaling.completions]).toEqual([['CONTINUE'], ['ABANDON']]);
    expect(sent).toEqual([]);
  });
});
