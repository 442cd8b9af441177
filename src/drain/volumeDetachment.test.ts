import { describe, expect, it } from 'vitest';
import type { ClusterPort, PodInfo, VolumeAttachmentDirectory, VolumeAttachmentInfo } from '../lifecycle/ports.js';
import { abortReason } from '../lifecycle/sleep.js';
import { silentLogger } from '../observability/logger.js';
import { VolumeDetachmentWait } from './volumeDetachment.js';

/** Attachments by node, changed by the test; waiters woken on each change, as the watch-backed index does. */
class FakeAttachments implements VolumeAttachmentDirectory {
  isSynced = true;
  private list: VolumeAttachmentInfo[] = [];
  private wakers = new Set<() => void>();
  set(list: VolumeAttachmentInfo[]) {
    this.list = list;
    for (const w of [...this.wakers]) w();
  }
  forNode(nodeName: string) { return this.list.filter((va) => va.nodeName === nodeName); }
  changed(_node: string, signal: AbortSignal) {
    return new Promise<void>((resolve, reject) => {
      const wake = () => { this.wakers.delete(wake); resolve(); };
      this.wakers.add(wake);
      signal.addEventListener('abort', () => { this.wakers.delete(wake); reject(abortReason(signal)); }, { once: true });
    });
  }
}

const va = (name: string, pv: string | undefined, nodeName = 'n1'): VolumeAttachmentInfo => ({ name, nodeName, persistentVolumeName: pv });
function pod(name: string, extra: Partial<PodInfo> = {}): PodInfo {
  return { namespace: 'ns', name, uid: `uid-${name}`, phase: 'Running', ownerKinds: ['ReplicaSet'], isMirror: false, deletionTimestamp: undefined, terminationGracePeriodSeconds: 30, podIps: [], ...extra };
}
function cluster(pods: PodInfo[], claims: Record<string, string> = {}): ClusterPort {
  return {
    listPodsOnNode: async () => pods,
    claimVolumeName: async (ns: string, c: string) => claims[`${ns}/${c}`],
  } as unknown as ClusterPort;
}

describe('VolumeDetachmentWait', () => {
  it('returns as soon as the last attachment of the drained pods goes (woken by the index, not polling)', async () => {
    const index = new FakeAttachments();
    index.set([va('csi-a', 'pv-a'), va('csi-b', 'pv-b'), va('csi-other-node', 'pv-c', 'n2')]);
    const wait = new VolumeDetachmentWait(index, cluster([])).wait('n1', 10_000, silentLogger, new AbortController().signal);
    setTimeout(() => index.set([va('csi-b', 'pv-b'), va('csi-other-node', 'pv-c', 'n2')]), 20);
    setTimeout(() => index.set([va('csi-other-node', 'pv-c', 'n2')]), 60);
    const outcome = await wait;
    expect(outcome).toMatchObject({ kind: 'detached', count: 2 });
    expect(outcome.kind === 'detached' && outcome.seconds).toBeLessThan(5);
  });

  it('ignores the attachments of the pods a drain leaves (DaemonSet, mirror) and says there is nothing to wait for', async () => {
    const index = new FakeAttachments();
    index.set([va('csi-ds', 'pv-ds')]);
    const pods = [pod('csi-node', { ownerKinds: ['DaemonSet'], claimNames: ['ds-data'] })];
    expect(await new VolumeDetachmentWait(index, cluster(pods, { 'ns/ds-data': 'pv-ds' })).wait('n1', 10_000, silentLogger, new AbortController().signal)).toEqual({ kind: 'none' });
  });

  it('a finished DaemonSet pod keeps nothing attached: its volume is waited for', async () => {
    const index = new FakeAttachments();
    index.set([va('csi-ds', 'pv-ds')]);
    const pods = [pod('csi-node', { ownerKinds: ['DaemonSet'], claimNames: ['ds-data'], phase: 'Succeeded' })];
    const outcome = await new VolumeDetachmentWait(index, cluster(pods, { 'ns/ds-data': 'pv-ds' })).wait('n1', 50, silentLogger, new AbortController().signal);
    expect(outcome).toMatchObject({ kind: 'timed-out', remaining: [va('csi-ds', 'pv-ds')] });
  });

  it('gives up after its bound and names what is still attached; an inline volume counts too', async () => {
    const index = new FakeAttachments();
    index.set([va('csi-stuck', 'pv-stuck'), va('csi-inline', undefined)]);
    const outcome = await new VolumeDetachmentWait(index, cluster([])).wait('n1', 50, silentLogger, new AbortController().signal);
    expect(outcome).toMatchObject({ kind: 'timed-out', remaining: [va('csi-stuck', 'pv-stuck'), va('csi-inline', undefined)] });
  });

  it('says it cannot tell before the index has synced, instead of reporting no volumes', async () => {
    const index = new FakeAttachments();
    index.isSynced = false;
    index.set([va('csi-a', 'pv-a')]);
    expect((await new VolumeDetachmentWait(index, cluster([])).wait('n1', 50, silentLogger, new AbortController().signal)).kind).toBe('unknown');
  });

  it('stops at once when the action stops (throws, not a timeout)', async () => {
    const index = new FakeAttachments();
    index.set([va('csi-a', 'pv-a')]);
    const stop = new AbortController();
    const wait = new VolumeDetachmentWait(index, cluster([])).wait('n1', 10_000, silentLogger, stop.signal);
    setTimeout(() => stop.abort(new Error('shutdown')), 20);
    await expect(wait).rejects.toThrow('shutdown');
  });
});
