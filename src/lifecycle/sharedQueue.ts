import type { Logger } from '../observability/logger.js';
import { requiredMaxReceiveCount } from './clusterScope.js';

export interface SharedQueueOptions {
  readonly queueName: string;
  /** --cluster-name; undefined: the queue is not shared. */
  readonly clusterName: string | undefined;
  /** The queue's redrive policy maxReceiveCount; undefined: no dead-letter queue. */
  readonly maxReceiveCount: number | undefined;
  readonly log: Logger;
}

/**
 * Watches what sharing a queue between clusters does to its dead-letter queue. Every receive by another cluster
 * counts toward the queue's maxReceiveCount (the message can only be released for its owner), so a queue shared by
 * k clusters needs maxReceiveCount >= requiredMaxReceiveCount(k) or some hooks' messages reach the dead-letter
 * queue and expire. This says so at startup, again whenever another cluster is seen on the queue and the count no
 * longer fits, and for every message that is one receive away from the dead-letter queue.
 */
export class SharedQueueWatch {
  private readonly otherClusters = new Set<string>();
  private warnedForClusters = 0;

  constructor(private readonly options: SharedQueueOptions) {}

  /** Clusters known to share the queue: this one plus every other one seen on it (at least 2 once shared). */
  get sharingClusters(): number {
    return 1 + Math.max(1, this.otherClusters.size);
  }

  /** At startup: warn when the redrive policy cannot survive sharing the queue with even one other cluster. */
  checkAtStartup(): void {
    const { clusterName, maxReceiveCount, log, queueName } = this.options;
    if (!clusterName || maxReceiveCount === undefined) return;
    if (maxReceiveCount < requiredMaxReceiveCount(2)) {
      log.warn(`${this.risk(2)}; if only this cluster uses queue ${queueName}, run without --cluster-name`);
      this.warnedForClusters = 2;
    }
  }

  /**
   * A message for a group of another cluster is being released for it. Returns true when the message is one
   * receive away from the dead-letter queue.
   */
  foreignMessage(receiveCount: number, groupClusters: readonly string[], log: Logger): boolean {
    const { maxReceiveCount } = this.options;
    for (const c of groupClusters) this.otherClusters.add(c);
    if (maxReceiveCount === undefined) return false;
    const sharing = this.sharingClusters;
    if (maxReceiveCount < requiredMaxReceiveCount(sharing) && sharing > this.warnedForClusters) {
      this.warnedForClusters = sharing;
      this.options.log.warn(this.risk(sharing));
    }
    if (receiveCount < maxReceiveCount - 1) return false;
    log.warn(`this message for another cluster has been received ${receiveCount} times; queue ${this.options.queueName} moves it to its dead-letter queue after ${maxReceiveCount}, and its hook would then expire unprocessed`);
    return true;
  }

  private risk(clusters: number): string {
    const { maxReceiveCount, queueName } = this.options;
    const counts = [2, 3, 4].map((k) => `${k} clusters ${requiredMaxReceiveCount(k)}`).join(', ');
    return `queue ${queueName} is shared by at least ${clusters} clusters but sends a message to its dead-letter queue after ${maxReceiveCount} receives, and every receive by another cluster counts: some hooks' messages will reach the dead-letter queue and expire. Raise the redrive policy's maxReceiveCount to ${requiredMaxReceiveCount(clusters)} or more (${counts}; lifecycle-manager enroll --cluster-name sets it)`;
  }
}
