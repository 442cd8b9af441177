import * as k8s from '@kubernetes/client-node';
import { FakeAttachDetachController } from './attachDetach.js';

/**
 * A minimal kubelet for tests (KWOK-style) plus the bit of kube-controller-manager the drain depends on:
 * - creates Nodes with `spec.providerID aws:///<az>/<instance-id>` and a Ready condition (settable to Unknown);
 * - marks the pods it creates Running/Ready with an IP;
 * - deletes pods that carry a deletionTimestamp once their grace period (scaled by `graceScale`) has passed —
 *   unless the node's Ready is Unknown (its kubelet is "unreachable") or the test holds the pod;
 * - plays the disruption controller: recomputes PodDisruptionBudget status from the pods (so a budget unblocks
 *   when a replacement pod becomes Ready), because without it every budget answers "still being processed";
 * - plays the attach/detach controller (`volumes`): VolumeAttachments for its pods' claims, detached after a delay.
 */
export class FakeKubelet {
  readonly core: k8s.CoreV1Api;
  readonly policy: k8s.PolicyV1Api;
  /** The attach/detach controller of this kubelet's nodes. */
  readonly volumes: FakeAttachDetachController;
  private readonly nodes = new Map<string, { ready: string; podCidrIndex: number }>();
  private readonly held = new Set<string>();
  private readonly pdbNamespaces = new Set<string>();
  private readonly finalizing = new Set<string>();
  private watchAbort: AbortController | undefined;
  private stopped = false;
  private podIpCounter = 10;
  private reconcileTimers = new Map<string, NodeJS.Timeout>();

  /**
   * `podCidrBase` shifts the pod CIDRs of this kubelet's nodes (10.<base + n>.…): test files that share the emulator
   * and register pod IPs in ip target groups use distinct ranges, or one file's groups would hold another's pods.
   */
  constructor(private readonly kc: k8s.KubeConfig, private readonly options: { graceScale: number; podCidrBase?: number } = { graceScale: 0.02 }) {
    this.core = kc.makeApiClient(k8s.CoreV1Api);
    this.policy = kc.makeApiClient(k8s.PolicyV1Api);
    this.volumes = new FakeAttachDetachController(kc, (name) => this.nodes.has(name));
  }

  async start(): Promise<void> {
    const watch = new k8s.Watch(this.kc);
    const restart = (): void => {
      if (this.stopped) return;
      setTimeout(() => void this.start().catch(() => restart()), 200).unref();
    };
    this.watchAbort = await watch.watch('/api/v1/pods', {}, (type, pod: k8s.V1Pod) => this.onPod(type, pod), () => restart());
  }

  stop(): void {
    this.stopped = true;
    this.watchAbort?.abort();
    this.volumes.stop();
    for (const t of this.reconcileTimers.values()) clearTimeout(t);
  }

  /** Creates a Node for an EC2 instance, Ready unless `ready` says otherwise (a kubelet whose node is not Ready yet). */
  async addNode(spec: { name: string; instanceId: string; availabilityZone: string; privateIp: string; labels?: Record<string, string>; ready?: 'True' | 'False' }): Promise<k8s.V1Node> {
    const node = await this.core.createNode({ body: {
      metadata: { name: spec.name, labels: { 'kubernetes.io/hostname': spec.name, ...spec.labels } },
      spec: { providerID: `aws:///${spec.availabilityZone}/${spec.instanceId}` },
    } });
    const ready = spec.ready ?? 'True';
    this.nodes.set(spec.name, { ready, podCidrIndex: this.nodes.size + 1 });
    await this.setNodeReady(spec.name, ready, spec.privateIp);
    return node;
  }

  /** Sets the node's Ready condition; 'Unknown' also stops this kubelet from finishing pod deletions there. */
  async setNodeReady(name: string, status: 'True' | 'False' | 'Unknown', privateIp?: string): Promise<void> {
    const known = this.nodes.get(name);
    if (known) known.ready = status;
    const now = new Date();
    // Read-modify-write; the service may patch the node (cordon, labels) in between, so retry on a conflict.
    for (let attempt = 0; ; attempt++) {
      const current = await this.core.readNodeStatus({ name });
      current.status = {
        ...current.status,
        conditions: [{ type: 'Ready', status, reason: status === 'True' ? 'KubeletReady' : 'NodeStatusUnknown', message: 'fake kubelet', lastHeartbeatTime: now, lastTransitionTime: now }],
        ...(privateIp ? { addresses: [{ type: 'InternalIP', address: privateIp }, { type: 'Hostname', address: name }] } : {}),
      };
      try {
        await this.core.replaceNodeStatus({ name, body: current });
        return;
      } catch (e) {
        if ((e as { code?: number }).code !== 409 || attempt >= 5) throw e;
      }
    }
  }

  /** Creates a pod bound to a node and marks it Running and Ready with an IP. */
  async createPod(namespace: string, spec: {
    name: string; nodeName: string; labels?: Record<string, string>; ownerKind?: string;
    terminationGracePeriodSeconds?: number; emptyDir?: boolean; mirror?: boolean;
    /** PersistentVolumeClaims it mounts (see volumes.createVolume). */
    claims?: readonly string[];
    priorityClassName?: string;
    /** false: Running but not Ready (a DaemonSet pod still starting); see setPodReady. */
    ready?: boolean;
  }): Promise<k8s.V1Pod> {
    const pod = await this.core.createNamespacedPod({ namespace, body: {
      metadata: {
        name: spec.name, labels: spec.labels ?? {},
        ...(spec.mirror ? { annotations: { 'kubernetes.io/config.mirror': 'mirror' } } : {}),
        ...(spec.ownerKind ? { ownerReferences: [{ apiVersion: spec.ownerKind === 'DaemonSet' ? 'apps/v1' : 'apps/v1', kind: spec.ownerKind, name: `${spec.name}-owner`, uid: '00000000-0000-0000-0000-000000000001', controller: true }] } : {}),
      },
      spec: {
        nodeName: spec.nodeName,
        terminationGracePeriodSeconds: spec.terminationGracePeriodSeconds ?? 30,
        containers: [{ name: 'app', image: 'registry.k8s.io/pause:3.10' }],
        ...(spec.priorityClassName ? { priorityClassName: spec.priorityClassName } : {}),
        volumes: [
          ...(spec.emptyDir ? [{ name: 'scratch', emptyDir: {} }] : []),
          ...(spec.claims ?? []).map((claimName, i) => ({ name: `data-${i}`, persistentVolumeClaim: { claimName } })),
        ],
      },
    } });
    // 10.<n>.0.x for the first 255 nodes; past that the third octet takes the overflow, so IPs stay valid.
    const cidr = (this.options.podCidrBase ?? 0) + (this.nodes.get(spec.nodeName)?.podCidrIndex ?? 0);
    const ip = `10.${cidr % 256}.${Math.floor(cidr / 256) % 256}.${this.podIpCounter++ % 250}`;
    const now = new Date();
    pod.status = {
      phase: 'Running', podIP: ip, podIPs: [{ ip }], hostIP: '172.31.0.1',
      conditions: podConditions(spec.ready ?? true, now),
    };
    return this.core.replaceNamespacedPodStatus({ name: spec.name, namespace, body: pod });
  }

  /** Sets a pod's Ready (and ContainersReady) condition, as its kubelet does when its readiness probe passes. */
  async setPodReady(namespace: string, name: string, ready: boolean): Promise<void> {
    const pod = await this.core.readNamespacedPodStatus({ name, namespace });
    pod.status = { ...pod.status, conditions: podConditions(ready, new Date()) };
    await this.core.replaceNamespacedPodStatus({ name, namespace, body: pod });
  }

  /** Creates a PodDisruptionBudget whose status this kubelet keeps current. */
  async createPdb(namespace: string, spec: { name: string; matchLabels: Record<string, string>; minAvailable?: number; maxUnavailable?: number }): Promise<void> {
    this.pdbNamespaces.add(namespace);
    await this.policy.createNamespacedPodDisruptionBudget({ namespace, body: {
      metadata: { name: spec.name },
      spec: {
        selector: { matchLabels: spec.matchLabels },
        ...(spec.minAvailable !== undefined ? { minAvailable: spec.minAvailable } : {}),
        ...(spec.maxUnavailable !== undefined ? { maxUnavailable: spec.maxUnavailable } : {}),
      },
    } });
    await this.reconcilePdbs(namespace);
  }

  /** Keeps a pod in Terminating (its deletion is never finished) until released. */
  hold(namespace: string, name: string): void {
    this.held.add(`${namespace}/${name}`);
  }

  release(namespace: string, name: string): void {
    this.held.delete(`${namespace}/${name}`);
  }

  private onPod(type: string, pod: k8s.V1Pod): void {
    void this.volumes.onPod(type, pod).catch(() => undefined);
    const ns = pod.metadata?.namespace ?? '';
    if (this.pdbNamespaces.has(ns)) this.scheduleReconcile(ns);
    if (type === 'DELETED' || !pod.metadata?.deletionTimestamp) return;
    const key = `${ns}/${pod.metadata.name}`;
    const node = this.nodes.get(pod.spec?.nodeName ?? '');
    if (!node || this.finalizing.has(key)) return;
    const graceSeconds = pod.metadata.deletionGracePeriodSeconds ?? 30;
    this.finalizing.add(key);
    const finish = async (): Promise<void> => {
      if (this.stopped) return;
      if (this.held.has(key) || node.ready === 'Unknown') {
        setTimeout(() => void finish(), 200).unref();
        return;
      }
      try {
        // With a body, the apiserver takes DeleteOptions from the body only: the grace period must be there.
        await this.core.deleteNamespacedPod({ name: pod.metadata!.name!, namespace: ns, body: { gracePeriodSeconds: 0, preconditions: { uid: pod.metadata!.uid! } } });
      } catch {
        // already gone, or replaced by a pod with the same name
      }
      this.finalizing.delete(key);
    };
    setTimeout(() => void finish(), Math.round(graceSeconds * this.options.graceScale * 1000)).unref();
  }

  private scheduleReconcile(namespace: string): void {
    if (this.reconcileTimers.has(namespace)) return;
    this.reconcileTimers.set(namespace, setTimeout(() => {
      this.reconcileTimers.delete(namespace);
      void this.reconcilePdbs(namespace).catch(() => this.scheduleReconcile(namespace));
    }, 50));
  }

  /** The disruption controller's arithmetic, for integer minAvailable / maxUnavailable. */
  async reconcilePdbs(namespace: string): Promise<void> {
    const pdbs = await this.policy.listNamespacedPodDisruptionBudget({ namespace });
    const pods = (await this.core.listNamespacedPod({ namespace })).items;
    for (const pdb of pdbs.items) {
      const selector = pdb.spec?.selector?.matchLabels ?? {};
      const matching = pods.filter((p) => Object.entries(selector).every(([k, v]) => p.metadata?.labels?.[k] === v));
      const healthy = matching.filter((p) => !p.metadata?.deletionTimestamp && p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')).length;
      const expected = matching.length;
      const desired = pdb.spec?.minAvailable !== undefined ? Number(pdb.spec.minAvailable) : Math.max(0, expected - Number(pdb.spec?.maxUnavailable ?? 0));
      const allowed = Math.max(0, healthy - desired);
      pdb.status = {
        ...pdb.status,
        observedGeneration: pdb.metadata?.generation ?? 1,
        currentHealthy: healthy, desiredHealthy: desired, expectedPods: expected, disruptionsAllowed: allowed,
        conditions: [{ type: 'DisruptionAllowed', status: allowed > 0 ? 'True' : 'False', reason: allowed > 0 ? 'SufficientPods' : 'InsufficientPods', message: '', lastTransitionTime: new Date(), observedGeneration: pdb.metadata?.generation ?? 1 }],
      };
      try {
        await this.policy.replaceNamespacedPodDisruptionBudgetStatus({ name: pdb.metadata!.name!, namespace, body: pdb });
      } catch (e) {
        if ((e as { code?: number }).code === 409) this.scheduleReconcile(namespace);
        else throw e;
      }
    }
  }
}

function podConditions(ready: boolean, now: Date): k8s.V1PodCondition[] {
  return ['PodScheduled', 'Initialized', 'ContainersReady', 'Ready'].map((type) => ({
    type, status: ready || type === 'PodScheduled' || type === 'Initialized' ? 'True' : 'False', lastTransitionTime: now,
  }));
}
