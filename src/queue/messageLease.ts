import { describeError, isAbort } from '../lifecycle/errors.js';
import type { QueueMessage, QueuePort } from '../lifecycle/ports.js';
import { sleep } from '../lifecycle/sleep.js';
import type { Logger } from '../observability/logger.js';

/**
 * Keeps one received SQS message invisible while we work on it, by extending its visibility before it lapses, and
 * ends with exactly one of: delete (done), release (visible again after a delay) or close (visibility left to lapse).
 * A redelivery of the same message brings a newer receipt handle; SQS honours only the newest, so it is adopted.
 */
export class MessageLease {
  private receiptHandle: string;
  private readonly stop = new AbortController();
  private settled = false;
  private readonly keepAlive: Promise<void>;

  constructor(
    readonly message: QueueMessage,
    private readonly queue: QueuePort,
    private readonly visibilityTimeoutSeconds: number,
    private readonly log: Logger,
  ) {
    this.receiptHandle = message.receiptHandle;
    this.keepAlive = this.extendUntilSettled();
  }

  get messageId(): string {
    return this.message.messageId;
  }

  /** True once deleted, released or closed: a later receipt of the message is a new delivery, not a duplicate. */
  get isSettled(): boolean {
    return this.settled;
  }

  /** A redelivery of this message arrived: use its receipt handle from now on. */
  adopt(receiptHandle: string): void {
    this.receiptHandle = receiptHandle;
  }

  /** Deletes the message: the work it carried is done or deliberately dropped. */
  async delete(signal: AbortSignal): Promise<void> {
    if (!this.settle()) return;
    await this.queue.delete(this.receiptHandle, signal);
  }

  /** Makes the message visible again after `delaySeconds` (0 = at once) for another receiver or a later retry. */
  async release(delaySeconds: number, signal: AbortSignal): Promise<void> {
    if (!this.settle()) return;
    await this.queue.changeVisibility(this.receiptHandle, delaySeconds, signal);
  }

  /** Stops extending without touching the message: it becomes visible when its current visibility lapses. */
  close(): void {
    this.settle();
  }

  private settle(): boolean {
    if (this.settled) return false;
    this.settled = true;
    this.stop.abort();
    return true;
  }

  private async extendUntilSettled(): Promise<void> {
    const everyMs = (this.visibilityTimeoutSeconds * 1000) / 2;
    try {
      for (;;) {
        await sleep(everyMs, this.stop.signal);
        try {
          await this.queue.changeVisibility(this.receiptHandle, this.visibilityTimeoutSeconds, this.stop.signal);
        } catch (e) {
          if (isAbort(e) && this.stop.signal.aborted) return;
          this.log.warn(`failed to extend visibility of message ${this.message.messageId}: ${describeError(e)}`, { error: e });
        }
      }
    } catch {
      // stopped
    }
  }

  /** Resolves when the keep-alive loop has stopped (tests, shutdown). */
  async closed(): Promise<void> {
    await this.keepAlive;
  }
}
