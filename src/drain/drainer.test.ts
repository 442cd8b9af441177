import { describe, expect, it } from 'vitest';
import { TransientError } from '../lifecycle/errors.js';
import type { ClusterPort, EvictionResult, NodeEvent, NodeInfo, PodInfo } from '../lifecycle/ports.js';
import { silentLogger } from '../observability/logger.js';
import { type DrainConfig, NodeDrainer } from './drainer.js';

const node: NodeInfo = { name: 'n1', uid: 'u1', instanceId: 'i-0123456789abcdef0', ready: 'True', privateIps: ['172.31.0.1'], unschedulable: false, creationTimestamp: undefined };

function pod(name: string, extra: Partial<PodInfo> = {}): PodInfo {
  return { namespace: 'ns', name, uid: `uid-${name}`, phase: 'Running', ownerKinds: ['ReplicaSet'], isMirror: false, deletionTimestamp: undefined, terminationGracePeriodSeconds: 30, podIps: [], ...extra };
}

/** An in-memory cluster: evicted pods disappear after `terminateMs`; `blocked` pods answer 429 until unblocked. */
class FakeCluster implements ClusterPort {
  pods = new Map<string, PodInfo>();
  blocked = new Set<string>();
  calls: string[] = [];
  nodeGone = false;
  failNextLists = 0;
  deletedWithGrace = new Map<string, number>();
  constructor(pods: PodInfo[], private readonly terminateMs = 5) {
    for (const p of pods) this.pods.set(p.name, p);
  }
  async getNode() { return this.nodeGone ? undefined : node; }
  async cordon() { this.calls.push('cordon'); return this.nodeGone ? 'gone' as const : 'cordoned' as const; }
  async listPodsOnNode() {
    this.calls.push('list');
    if (this.failNextLists > 0) { this.failNextLists--; throw new TransientError('apiserver unavailable', false); }
    return [...this.pods.values()];
  }
  refused = new Map<string, string>();
  async evictPod(p: PodInfo): Promise<EvictionResult> {
    this.calls.push(`evict ${p.name}`);
    if (!this.pods.has(p.name)) return { outcome: 'gone' };
    if (this.blocked.has(p.name)) return { outcome: 'blocked-by-pdb' };
    const refusal = this.refused.get(p.name);
    if (refusal) return { outcome: 'refused', reason: refusal, namespaceTerminating: false };
    this.terminate(p.name);
    return { outcome: 'evicted' };
  }
  async deletePod(p: PodInfo, grace: number) {
    this.deletedWithGrace.set(p.name, grace);
    this.terminate(p.name);
    return 'deleted' as const;
  }
  async deleteNode() { return 'deleted' as const; }
  async taint() { return 'tainted' as const; }
  async untaint() { return 'absent' as const; }
  async listDisruptionBudgets() { return []; }
  async claimVolumeName() { return undefined; }
  private terminate(name: string) {
    const p = this.pods.get(name)!;
    this.pods.set(name, { ...p, deletionTimestamp: new Date() });
    setTimeout(() => this.pods.delete(name), this.terminateMs);
  }
}

const config: DrainConfig = { drainTimeoutSeconds: 0.3, drainTimeoutUnknownSeconds: 0.1, drainIntervalSeconds: 0.01, drainRetries: 2, maxTerminationGracePeriodSeconds: 0.2, nodeLabels: {}, pollIntervalMs: 10 };

function reporter() {
  const events: NodeEvent[] = [];
  const outcomes: string[] = [];
  let failed = 0;
  return { events, outcomes, failed: () => failed, api: { event: (e: NodeEvent) => events.push(e), eviction: (o: string) => outcomes.push(o), drainFailed: () => { failed++; } } };
}

describe('NodeDrainer', () => {
  it('evicts every pod but DaemonSet and mirror pods, and waits until they are gone', async () => {
    const cluster = new FakeCluster([pod('a'), pod('b', { ownerKinds: [] }), pod('ds', { ownerKinds: ['DaemonSet'] }), pod('static', { isMirror: true })]);
    const r = reporter();
    const result = await new NodeDrainer(cluster, config).drain(node, silentLogger, r.api, new AbortController().signal);
    expect(result).toEqual({ outcome: 'drained', attempts: 1 });
    expect([...cluster.pods.keys()].sort()).toEqual(['ds', 'static']);
    expect(cluster.calls.filter((c) => c.startsWith('evict')).sort()).toEqual(['evict a', 'evict b']);
  });

  it('skips draining when the timeout is 0, like upstream', async () => {
    const cluster = new FakeCluster([pod('a')]);
    const result = await new NodeDrainer(cluster, { ...config, drainTimeoutSeconds: 0 }).drain(node, silentLogger, reporter().api, new AbortController().signal);
    expect(result.outcome).toBe('skipped');
    expect(cluster.calls).toEqual([]);
  });

  it('counts a node that no longer exists as drained', async () => {
    const cluster = new FakeCluster([pod('a')]);
    cluster.nodeGone = true;
    expect((await new NodeDrainer(cluster, config).drain(node, silentLogger, reporter().api, new AbortController().signal)).outcome).toBe('node-gone');
  });

  it('rides out an API outage within the attempt instead of failing at once', async () => {
    const cluster = new FakeCluster([pod('a')]);
    cluster.failNextLists = 2;
    const result = await new NodeDrainer(cluster, { ...config, drainTimeoutSeconds: 5 }).drain(node, silentLogger, reporter().api, new AbortController().signal);
    expect(result).toEqual({ outcome: 'drained', attempts: 1 });
  });

  it('retries a PDB-blocked eviction within the attempt, and succeeds once the budget allows it', async () => {
    const cluster = new FakeCluster([pod('a')]);
    cluster.blocked.add('a');
    setTimeout(() => cluster.blocked.delete('a'), 100);
    const r = reporter();
    const result = await new NodeDrainer(cluster, { ...config, drainTimeoutSeconds: 5 }).drain(node, silentLogger, r.api, new AbortController().signal);
    expect(result.outcome).toBe('drained');
    expect(r.outcomes.filter((o) => o === 'blocked-by-pdb').length).toBeGreaterThanOrEqual(1);
    expect(r.outcomes.at(-1)).toBe('evicted');
  });

  it('after the last failed attempt deletes the remaining pods with the pod\'s grace capped by max-termination-grace-period', async () => {
    const cluster = new FakeCluster([pod('slow', { terminationGracePeriodSeconds: 600 }), pod('quick', { terminationGracePeriodSeconds: 0.1 })]);
    cluster.blocked.add('slow');
    cluster.blocked.add('quick');
    const r = reporter();
    const result = await new NodeDrainer(cluster, config).drain(node, silentLogger, r.api, new AbortController().signal);
    expect(result).toEqual({ outcome: 'escalated', attempts: 2 });
    expect(Object.fromEntries(cluster.deletedWithGrace)).toEqual({ slow: 0.2, quick: 0.1 });
    expect(r.failed()).toBe(1);
    expect(r.events.map((e) => e.reason)).toEqual(['NodeDrainFailed', 'GracefulPodDeletionAfterDrainFailed']);
  });

  it('fails without escalating when max-termination-grace-period is 0', async () => {
    const cluster = new FakeCluster([pod('a')]);
    cluster.blocked.add('a');
    const result = await new NodeDrainer(cluster, { ...config, maxTerminationGracePeriodSeconds: 0 }).drain(node, silentLogger, reporter().api, new AbortController().signal);
    expect(result.outcome).toBe('failed');
    expect(result.outcome === 'failed' && result.reason).toMatch(/blocked by PodDisruptionBudget.*graceful escalation is disabled/u);
    expect(cluster.deletedWithGrace.size).toBe(0);
  });

  it('uses the short timeout for a node whose Ready is Unknown and deletes its pods with grace 0', async () => {
    const cluster = new FakeCluster([pod('a')]);
    cluster.blocked.add('a');
    const unknownNode = { ...node, ready: 'Unknown' };
    cluster.getNode = async () => unknownNode;
    const started = Date.now();
    const result = await new NodeDrainer(cluster, { ...config, drainTimeoutSeconds: 60 }).drain(unknownNode, silentLogger, reporter().api, new AbortController().signal);
    expect(result.outcome).toBe('escalated');
    expect(cluster.deletedWithGrace.get('a')).toBe(0);
    expect(Date.now() - started).toBeLessThan(60_000); // the 60 s timeout was never used
  });

  it('keeps draining the other pods when one pod\'s eviction is refused, retries that pod, and names it', async () => {
    const cluster = new FakeCluster([pod('ok-1'), pod('webhooked'), pod('ok-2')]);
    cluster.refused.set('webhooked', 'HTTP 400: admission webhook "deny.example.com" denied the request');
    const r = reporter();
    const result = await new NodeDrainer(cluster, { ...config, drainRetries: 1, maxTerminationGracePeriodSeconds: 0, drainTimeoutSeconds: 1.5 }).drain(node, silentLogger, r.api, new AbortController().signal);
    // The others were evicted at once; the refused one was asked again and again until the attempt's timeout.
    expect([...cluster.pods.keys()]).toEqual(['webhooked']);
    expect(cluster.calls.filter((c) => c === 'evict webhooked').length).toBeGreaterThanOrEqual(2);
    // The attempt ended on its --drain-timeout, not on the first refusal.
    expect(result.outcome === 'failed' && result.reason).toMatch(/^global timeout reached: 1.5s; 1 pods still on the node: ns\/webhooked \(eviction refused: HTTP 400: admission webhook "deny.example.com" denied the request\)/u);
    expect(r.outcomes.filter((o) => o === 'refused').length).toBeGreaterThanOrEqual(2);
    // Reported once as an Event naming the pod, not once per retry.
    expect(r.events.filter((e) => e.reason === 'PodEvictionRefused').map((e) => e.message)).toEqual([
      'eviction of pod ns/webhooked was refused: HTTP 400: admission webhook "deny.example.com" denied the request; it is retried while the other pods keep draining',
    ]);
  });

  it('drains a refused pod once the refusal stops, within the same attempt', async () => {
    const cluster = new FakeCluster([pod('a'), pod('b')]);
    cluster.refused.set('b', 'HTTP 403: unable to create new content in namespace ns because it is being terminated');
    setTimeout(() => cluster.refused.delete('b'), 300);
    const result = await new NodeDrainer(cluster, { ...config, drainTimeoutSeconds: 10 }).drain(node, silentLogger, reporter().api, new AbortController().signal);
    expect(result).toEqual({ outcome: 'drained', attempts: 1 });
    expect(cluster.pods.size).toBe(0);
  });

  it('does not cut an attempt short when the pod list is refused: it keeps trying until the attempt times out', async () => {
    const cluster = new FakeCluster([pod('a')]);
    let refusals = 3;
    const list = cluster.listPodsOnNode.bind(cluster);
    cluster.listPodsOnNode = async () => {
      if (refusals-- > 0) throw new Error('list pods on node n1: HTTP 400: bad request');
      return list();
    };
    const result = await new NodeDrainer(cluster, { ...config, drainTimeoutSeconds: 5, drainRetries: 1 }).drain(node, silentLogger, reporter().api, new AbortController().signal);
    expect(result).toEqual({ outcome: 'drained', attempts: 1 });
  });

  describe('cordon in each attempt', () => {
    const labels = { 'node.kubernetes.io/exclude-from-external-load-balancers': 'true' };
    const blockedTwice = (): FakeCluster => {
      const cluster = new FakeCluster([pod('guarded')]);
      cluster.blocked.add('guarded');
      return cluster;
    };
    const run = (cluster: FakeCluster, indexed: NodeInfo | undefined) => new NodeDrainer(cluster, { ...config, nodeLabels: labels, maxTerminationGracePeriodSeconds: 0, drainTimeoutSeconds: 0.1 },
      { findByInstanceId: (id) => (id === node.instanceId ? indexed : undefined) }).drain(node, silentLogger, reporter().api, new AbortController().signal);

    it('sends no PATCH when the node index shows the node cordoned with the labels already', async () => {
      const cluster = blockedTwice();
      await run(cluster, { ...node, unschedulable: true, labels });
      expect(cluster.calls.filter((c) => c === 'cordon')).toEqual([]);
    });

    it('cordons again in each attempt when the index shows it schedulable (uncordoned), without the labels, or another Node of that name', async () => {
      for (const indexed of [{ ...node, unschedulable: false, labels }, { ...node, unschedulable: true, labels: {} }, { ...node, uid: 'other', unschedulable: true, labels }, undefined]) {
        const cluster = blockedTwice();
        await run(cluster, indexed);
        expect(cluster.calls.filter((c) => c === 'cordon')).toEqual(['cordon', 'cordon']);
      }
    });
  });

  it('evicts even when the node cannot be cordoned (the cordon is tried again meanwhile)', async () => {
    const cluster = new FakeCluster([pod('a'), pod('b')]);
    let cordons = 0;
    cluster.cordon = async () => { cordons++; throw new Error('cordon node n1: HTTP 403: nodes "n1" is forbidden'); };
    const result = await new NodeDrainer(cluster, { ...config, drainTimeoutSeconds: 5, drainRetries: 1 }).drain(node, silentLogger, reporter().api, new AbortController().signal);
    expect(result).toEqual({ outcome: 'drained', attempts: 1 });
    expect(cluster.calls.filter((c) => c.startsWith('evict')).sort()).toEqual(['evict a', 'evict b']);
    expect(cordons).toBeGreaterThanOrEqual(1);
  });

  describe('in tiers: the system-critical pods only once the others are gone', () => {
    const critical = (name: string) => pod(name, { priorityClassName: 'system-cluster-critical', priority: 2_000_000_000 });

    it('evicts the non-critical pods, waits for them to be gone, then evicts the critical ones, and says so', async () => {
      const cluster = new FakeCluster([critical('coredns'), pod('web-1'), pod('web-2'), pod('node-agent', { priority: 2_000_001_000 })], 80);
      const r = reporter();
      const tiers: string[] = [];
      const result = await new NodeDrainer(cluster, { ...config, drainTimeoutSeconds: 5 }).drain(node, silentLogger, { ...r.api, tierDone: (t) => tiers.push(t) }, new AbortController().signal);
      expect(result).toEqual({ outcome: 'drained', attempts: 1 });
      const evictions = cluster.calls.filter((c) => c.startsWith('evict'));
      expect(evictions.slice(0, 2).sort()).toEqual(['evict web-1', 'evict web-2']);
      expect(evictions.slice(2).sort()).toEqual(['evict coredns', 'evict node-agent']);
      // Between the two tiers the web pods were listed as still terminating, and nothing critical was asked.
      expect(cluster.calls.indexOf('evict coredns')).toBeGreaterThan(cluster.calls.lastIndexOf('evict web-2') + 1);
      expect(r.events.filter((e) => e.reason === 'EvictingPodTier').map((e) => e.message)).toEqual([
        'node n1, non-critical tier: evicting 2 non-critical pods first; 2 system-critical pods (ns/coredns, ns/node-agent) wait until they are gone',
        'node n1, critical tier: evicting 2 system-critical pods (ns/coredns, ns/node-agent) now that the other pods are gone',
      ]);
      expect(tiers).toEqual(['non-critical', 'critical']);
    });

    it('holds the critical tier back while a non-critical pod is blocked, and names the tier it waits on', async () => {
      const cluster = new FakeCluster([critical('coredns'), pod('guarded')]);
      cluster.blocked.add('guarded');
      const result = await new NodeDrainer(cluster, { ...config, drainRetries: 1, maxTerminationGracePeriodSeconds: 0, drainTimeoutSeconds: 0.5 }).drain(node, silentLogger, reporter().api, new AbortController().signal);
      expect(cluster.calls).not.toContain('evict coredns');
      expect(result.outcome === 'failed' && result.reason).toMatch(/^global timeout reached: 0.5s; waiting on the non-critical tier: 1 pods still on the node: ns\/guarded \(blocked by PodDisruptionBudget\)/u);
    });

    it('a node with only critical pods (or none) drains in one tier without tier Events', async () => {
      const onlyCritical = new FakeCluster([critical('coredns')]);
      const r1 = reporter();
      expect((await new NodeDrainer(onlyCritical, config).drain(node, silentLogger, r1.api, new AbortController().signal)).outcome).toBe('drained');
      expect(r1.events.map((e) => e.reason)).toEqual(['EvictingPodTier']);
      const plain = new FakeCluster([pod('a'), pod('b')]);
      const r2 = reporter();
      expect((await new NodeDrainer(plain, config).drain(node, silentLogger, r2.api, new AbortController().signal)).outcome).toBe('drained');
      expect(r2.events).toEqual([]);
    });
  });
});
