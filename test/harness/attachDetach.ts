import { createHash } from 'node:crypto';
import * as k8s from '@kubernetes/client-node';

const ATTACHER = 'ebs.csi.aws.com';

/**
 * The attach/detach controller's part for tests (kube-controller-manager plus the CSI external-attacher): a pod with
 * PersistentVolumeClaims running on a node gets a VolumeAttachment per volume; once no pod on that node uses the
 * volume any more, the attachment is deleted `detachDelayMs` later — unless the test holds the volume (a detach that
 * never finishes). Only the nodes of the FakeKubelet that owns it are handled.
 */
export class FakeAttachDetachController {
  /** How long a detach takes once the volume's last pod on the node is gone. */
  detachDelayMs = 300;
  private readonly storage: k8s.StorageV1Api;
  private readonly core: k8s.CoreV1Api;
  private readonly held = new Set<string>();
  /** `node/pv` → the pods (namespace/name) on that node using it. */
  private readonly users = new Map<string, Set<string>>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private stopped = false;
  private queue: Promise<void> = Promise.resolve();

  constructor(kc: k8s.KubeConfig, private readonly ownsNode: (nodeName: string) => boolean) {
    this.storage = kc.makeApiClient(k8s.StorageV1Api);
    this.core = kc.makeApiClient(k8s.CoreV1Api);
  }

  /** A CSI PersistentVolume and a claim bound to it (as the PV controller would have bound them). */
  async createVolume(namespace: string, claimName: string): Promise<string> {
    const pvName = `pv-${namespace}-${claimName}`.slice(0, 63);
    await this.core.createPersistentVolume({ body: {
      metadata: { name: pvName },
      spec: {
        capacity: { storage: '1Gi' }, accessModes: ['ReadWriteOnce'], persistentVolumeReclaimPolicy: 'Delete', storageClassName: '',
        csi: { driver: ATTACHER, volumeHandle: `vol-${createHash('sha256').update(pvName).digest('hex').slice(0, 17)}` },
        claimRef: { namespace, name: claimName },
      },
    } });
    await this.core.createNamespacedPersistentVolumeClaim({ namespace, body: {
      metadata: { name: claimName },
      spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } }, storageClassName: '', volumeName: pvName },
    } });
    return pvName;
  }

  /** The volume's detach never finishes until released. */
  hold(pvName: string): void {
    this.held.add(pvName);
  }

  release(pvName: string): void {
    this.held.delete(pvName);
  }

  /** The VolumeAttachments naming `nodeName`. */
  async attachmentsOn(nodeName: string): Promise<k8s.V1VolumeAttachment[]> {
    return (await this.storage.listVolumeAttachment()).items.filter((va) => va.spec.nodeName === nodeName);
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
  }

  /** Fed every pod event the kubelet sees; handled one at a time, in order (a pod's DELETED after its ADDED). */
  onPod(type: string, pod: k8s.V1Pod): Promise<void> {
    this.queue = this.queue.then(() => this.handle(type, pod)).catch(() => undefined);
    return this.queue;
  }

  private async handle(type: string, pod: k8s.V1Pod): Promise<void> {
    const nodeName = pod.spec?.nodeName;
    if (!nodeName || !this.ownsNode(nodeName)) return;
    const ref = `${pod.metadata?.namespace}/${pod.metadata?.name}`;
    const claims = (pod.spec?.volumes ?? []).flatMap((v) => (v.persistentVolumeClaim ? [v.persistentVolumeClaim.claimName] : []));
    if (claims.length === 0) return;
    const volumes = await Promise.all(claims.map((c) => this.core.readNamespacedPersistentVolumeClaim({ name: c, namespace: pod.metadata!.namespace! })
      .then((pvc) => pvc.spec?.volumeName, () => undefined)));
    for (const pv of volumes) {
      if (!pv) continue;
      const key = `${nodeName}/${pv}`;
      const users = this.users.get(key) ?? new Set<string>();
      this.users.set(key, users);
      if (type === 'DELETED') {
        users.delete(ref);
        if (users.size === 0) this.detachLater(nodeName, pv);
      } else if (!users.has(ref)) {
        users.add(ref);
        await this.attach(nodeName, pv);
      }
    }
  }

  private attachmentName(nodeName: string, pv: string): string {
    return `csi-${createHash('sha256').update(`${ATTACHER}/${pv}/${nodeName}`).digest('hex').slice(0, 40)}`;
  }

  private async attach(nodeName: string, pv: string): Promise<void> {
    const name = this.attachmentName(nodeName, pv);
    try {
      await this.storage.createVolumeAttachment({ body: { metadata: { name }, spec: { attacher: ATTACHER, nodeName, source: { persistentVolumeName: pv } } } });
    } catch (e) {
      if ((e as { code?: number }).code !== 409) throw e;
    }
  }

  private detachLater(nodeName: string, pv: string): void {
    const attempt = (): void => {
      if (this.stopped) return;
      if (this.held.has(pv) || (this.users.get(`${nodeName}/${pv}`)?.size ?? 0) > 0) {
        if (!this.held.has(pv)) return; // used again on this node: it stays attached
        this.schedule(attempt, 200);
        return;
      }
      void this.storage.deleteVolumeAttachment({ name: this.attachmentName(nodeName, pv) }).catch(() => undefined);
    };
    this.schedule(attempt, this.detachDelayMs);
  }

  private schedule(run: () => void, ms: number): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      run();
    }, ms);
    t.unref();
    this.timers.add(t);
  }
}
