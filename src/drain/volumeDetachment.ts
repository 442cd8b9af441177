import type { ClusterPort, PodInfo, VolumeAttachmentDirectory, VolumeAttachmentInfo } from '../lifecycle/ports.js';
import { retryUntil } from '../lifecycle/retryUntil.js';
import { isAbort } from '../lifecycle/errors.js';
import { linkedSignal } from '../lifecycle/sleep.js';
import type { Logger } from '../observability/logger.js';
import { isDrainExempt, isTerminal } from './podSelection.js';

export type VolumeWaitOutcome =
  /** Nothing the drain moved was attached to the node. */
  | { readonly kind: 'none' }
  | { readonly kind: 'detached'; readonly count: number; readonly seconds: number }
  | { readonly kind: 'timed-out'; readonly remaining: readonly VolumeAttachmentInfo[]; readonly seconds: number }
  /** The attachment index has not been filled (its watch cannot list): nothing can be said. */
  | { readonly kind: 'unknown'; readonly why: string };

/**
 * Waits, up to `timeoutMs`, until the node has no VolumeAttachment left except those of the pods a drain leaves
 * (DaemonSet and mirror pods keep theirs until the instance goes). Woken by the attachment watch, so the wait costs
 * no API call beyond one pod LIST (and one claim read per persistent volume claim of a pod left on the node).
 */
export class VolumeDetachmentWait {
  constructor(private readonly directory: VolumeAttachmentDirectory, private readonly cluster: ClusterPort) {}

  /** What a wait would wait for now (--dry-run): the node's attachments but those of the pods a drain leaves. */
  async attached(nodeName: string, log: Logger, signal: AbortSignal): Promise<VolumeAttachmentInfo[] | undefined> {
    if (!this.directory.isSynced) return undefined;
    if (this.directory.forNode(nodeName).length === 0) return [];
    const kept = await this.volumesOfPodsLeft(nodeName, log, signal);
    return this.directory.forNode(nodeName).filter((va) => !va.persistentVolumeName || !kept.has(va.persistentVolumeName));
  }

  async wait(nodeName: string, timeoutMs: number, log: Logger, signal: AbortSignal): Promise<VolumeWaitOutcome> {
    if (!this.directory.isSynced) return { kind: 'unknown', why: 'the VolumeAttachment watch has not synced' };
    const startedAtMs = Date.now();
    // A node without attachments (most stateless nodes) costs no pod LIST.
    if (this.directory.forNode(nodeName).length === 0) return { kind: 'none' };
    const kept = await this.volumesOfPodsLeft(nodeName, log, signal);
    const pending = (): VolumeAttachmentInfo[] => this.directory.forNode(nodeName).filter((va) => !va.persistentVolumeName || !kept.has(va.persistentVolumeName));
    const first = pending();
    if (first.length === 0) return { kind: 'none' };
    log.info(`waiting up to ${Math.round(timeoutMs / 1000)}s for ${first.length} volumes to be detached from node ${nodeName}: ${describeAttachments(first)}`);
    const window = linkedSignal([signal], timeoutMs);
    try {
      for (;;) {
        // Registered before the check, so a change between the two is not missed.
        const changed = this.directory.changed(nodeName, window.signal);
        changed.catch(() => undefined);
        if (pending().length === 0) return { kind: 'detached', count: first.length, seconds: (Date.now() - startedAtMs) / 1000 };
        await changed;
      }
    } catch (e) {
      if (signal.aborted || !isAbort(e)) throw e;
      return { kind: 'timed-out', remaining: pending(), seconds: (Date.now() - startedAtMs) / 1000 };
    } finally {
      window.dispose();
    }
  }

  /** The persistent volumes of the pods that stay on the node (the drain leaves them): their attachments stay too. */
  private async volumesOfPodsLeft(nodeName: string, log: Logger, signal: AbortSignal): Promise<Set<string>> {
    const pods = await retryUntil(() => this.cluster.listPodsOnNode(nodeName, signal), signal, { operation: `list pods on node ${nodeName}`, log });
    const claims = pods.filter((p: PodInfo) => isDrainExempt(p) && !isTerminal(p)).flatMap((p) => (p.claimNames ?? []).map((c) => ({ namespace: p.namespace, claim: c })));
    const volumes = await Promise.all(claims.map(({ namespace, claim }) =>
      retryUntil(() => this.cluster.claimVolumeName(namespace, claim, signal), signal, { operation: `get persistentvolumeclaim ${namespace}/${claim}`, log })));
    return new Set(volumes.filter((v): v is string => v !== undefined));
  }
}

/** "csi-1a2b (pv-data-0), csi-3c4d (inline)" — at most five. */
export function describeAttachments(list: readonly VolumeAttachmentInfo[]): string {
  const shown = list.slice(0, 5).map((va) => `${va.name} (${va.persistentVolumeName ?? 'inline volume'})`);
  return `${shown.join(', ')}${list.length > 5 ? `, and ${list.length - 5} more` : ''}`;
}
