import { describeError, isAbort, isAccessDenied } from '../lifecycle/errors.js';
import type { QueueMessage, QueuePort } from '../lifecycle/ports.js';
import { sleep, withTimeout } from '../lifecycle/sleep.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { MessageLease } from './messageLease.js';

export interface ConsumerConfig {
  readonly queueName: string;
  /** SQS long-poll WaitTimeSeconds (0–20): --polling-interval. */
  readonly waitTimeSeconds: number;
  /** Visibility given at receipt and re-extended every half of it while the message is worked on. */
  readonly visibilityTimeoutSeconds: number;
  /** Receiving pauses while this many messages are being worked on. */
  readonly maxInFlight: number;
  /** Bound on one request beyond its long-poll wait (--api-timeout). */
  readonly apiTimeoutSeconds: number;
}

/** Longest backoff between failed receives. */
const MAX_RECEIVE_BACKOFF_MS = 30_000;

export type MessageHandler = (message: QueueMessage, lease: MessageLease) => Promise<void>;

/** Receives running at once, besides the long poll, while the queue has a backlog. */
const MAX_BURST_RECEIVERS = 4;
/** SQS returns at most this many messages per receive. */
const MAX_MESSAGES_PER_RECEIVE = 10;

/**
 * Receives up to 10 messages per long poll and hands each to the handler without waiting for it, so a burst of
 * terminations is picked up at once while slow drains continue; receiving pauses only at `maxInFlight`.
 * A receive that comes back full means a backlog: up to MAX_BURST_RECEIVERS more receives then run alongside the
 * long poll, each for as long as it keeps coming back full — 500 messages arrive in about the time of 10 receives
 * rather than 50 in a row, and an idle queue still costs one long poll at a time.
 * A redelivery of a message already being handled only refreshes its receipt handle.
 */
export class QueueConsumer {
  private readonly leases = new Map<string, MessageLease>();
  private readonly handling = new Set<Promise<void>>();
  private wake: (() => void) | undefined;
  private lastReceiveOkAtMs = 0;
  /** When the receive loop last went round (or started waiting for room). */
  private loopProgressAtMs = Date.now();
  private waitingForRoom = false;
  private running = false;
  /** Messages asked for by receives in flight: room they may fill, so concurrent receives never pass maxInFlight. */
  private asked = 0;
  private burstReceivers = 0;
  private readonly bursts = new Set<Promise<void>>();

  constructor(
    private readonly queue: QueuePort,
    private readonly config: ConsumerConfig,
    private readonly handler: MessageHandler,
    private readonly log: Logger,
    private readonly metrics: Metrics,
  ) {}

  get inFlight(): number {
    return this.handling.size;
  }

  /** True when the last receive succeeded recently (readiness). */
  isHealthy(nowMs = Date.now()): boolean {
    return nowMs - this.lastReceiveOkAtMs < Math.max(60, 3 * this.config.waitTimeSeconds + 30) * 1000;
  }

  /**
   * Liveness: the receive loop is running and goes round (a long poll, then the next), or is waiting for room at
   * --max-in-flight. A loop stuck in one receive longer than the poll, the request bound and the longest backoff
   * together is not alive.
   */
  isAlive(nowMs = Date.now()): boolean {
    if (!this.running) return false;
    if (this.waitingForRoom) return true;
    const boundMs = (this.config.waitTimeSeconds + this.config.apiTimeoutSeconds + 30) * 1000 + MAX_RECEIVE_BACKOFF_MS;
    return nowMs - this.loopProgressAtMs < boundMs;
  }

  /**
   * Receives until the signal aborts; then waits for the handlers, which end at a safe point on the same signal.
   * A long poll in flight is not cancelled at shutdown — SQS may already have handed it messages, and a cancelled
   * request would strand them for the visibility timeout — it ends by itself within --polling-interval, and
   * whatever it returns is handed back to the queue at once (visibility 0) for another replica.
   */
  async run(signal: AbortSignal): Promise<void> {
    let failures = 0;
    this.running = true;
    try {
      while (!signal.aborted) {
        this.loopProgressAtMs = Date.now();
        const room = this.room;
        if (room <= 0) {
          await this.waitForRoom(signal);
          continue;
        }
        let received: number | 'stopped';
        try {
          this.log.debug('polling for messages from queue');
          received = await this.receive(Math.min(MAX_MESSAGES_PER_RECEIVE, room), this.config.waitTimeSeconds, signal);
          failures = 0;
        } catch (e) {
          if (signal.aborted) break;
          failures++;
          const delayMs = Math.min(MAX_RECEIVE_BACKOFF_MS, 1_000 * 2 ** Math.min(failures - 1, 5));
          const line = `unable to receive message from queue ${this.config.queueName}, ${isAbort(e) ? 'no answer within the request bound' : describeError(e)}; retrying in ${delayMs / 1000}s`;
          if (isAccessDenied(e)) this.log.error(line);
          else this.log.warn(line);
          await sleep(delayMs, signal).catch(() => undefined);
          continue;
        }
        if (received === 'stopped') break;
        if (received === 0) {
          this.log.debug('no messages received in interval');
          if (this.config.waitTimeSeconds === 0) await sleep(1_000, signal).catch(() => undefined);
        }
        if (received === MAX_MESSAGES_PER_RECEIVE) this.startBurstReceivers(signal);
      }
      await Promise.allSettled([...this.bursts]);
      await Promise.allSettled([...this.handling]);
    } finally {
      this.running = false;
    }
  }

  /**
   * One ReceiveMessage, bounded by its wait and --api-timeout; its messages are handed to the handler (or, once
   * shutdown began, back to the queue: 'stopped'). The room it asked for counts against maxInFlight until its
   * messages are being handled, so receives running at once never take more than there is room for.
   */
  private async receive(maxMessages: number, waitTimeSeconds: number, signal: AbortSignal): Promise<number | 'stopped'> {
    const boundMs = (waitTimeSeconds + this.config.apiTimeoutSeconds) * 1000;
    this.asked += maxMessages;
    try {
      const messages = await withTimeout([], boundMs, (s) => this.queue.receive({ maxMessages, waitTimeSeconds, visibilityTimeoutSeconds: this.config.visibilityTimeoutSeconds }, s));
      this.lastReceiveOkAtMs = Date.now();
      if (signal.aborted) {
        await this.handBack(messages);
        return 'stopped';
      }
      for (const message of messages) this.accept(message);
      return messages.length;
    } finally {
      this.asked -= maxMessages;
      this.wake?.(); // the room it held and did not fill is free again
    }
  }

  private get room(): number {
    return this.config.maxInFlight - this.handling.size - this.asked;
  }

  private startBurstReceivers(signal: AbortSignal): void {
    while (this.burstReceivers < MAX_BURST_RECEIVERS && this.room >= MAX_MESSAGES_PER_RECEIVE && !signal.aborted) {
      this.burstReceivers++;
      const burst = this.burstReceive(signal).finally(() => {
        this.burstReceivers--;
        this.bursts.delete(burst);
      });
      this.bursts.add(burst);
    }
  }

  /**
   * Receives (without a long wait: the long poll is there for that) while the queue keeps handing out full batches
   * and there is room; a failure ends it quietly — the long poll reports and backs off.
   */
  private async burstReceive(signal: AbortSignal): Promise<void> {
    while (!signal.aborted && this.room >= MAX_MESSAGES_PER_RECEIVE) {
      let received: number | 'stopped';
      try {
        received = await this.receive(MAX_MESSAGES_PER_RECEIVE, 0, signal);
      } catch (e) {
        this.log.debug(`a burst receive failed (the long poll carries on): ${describeError(e)}`);
        return;
      }
      if (received !== MAX_MESSAGES_PER_RECEIVE) return;
    }
  }

  /** Messages the last poll returned after shutdown began: visible again at once, for another replica. */
  private async handBack(messages: readonly QueueMessage[]): Promise<void> {
    if (messages.length === 0) return;
    const results = await Promise.allSettled(messages.map((m) => withTimeout([], 15_000, (s) => this.queue.changeVisibility(m.receiptHandle, 0, s))));
    const failed = results.filter((r) => r.status === 'rejected').length;
    for (let i = 0; i < messages.length; i++) this.metrics.recordMessage('released', 'shutdown');
    this.log.info(`shutting down: returned ${messages.length - failed} message(s) the last poll received to the queue${failed > 0 ? `; ${failed} could not be returned and reappear after their visibility timeout` : ''}`);
  }

  private accept(message: QueueMessage): void {
    const existing = this.leases.get(message.messageId);
    // A message released a moment ago (visibility 0) can come back before its handler has finished: that is a
    // new delivery, not a duplicate of one in flight.
    if (existing && !existing.isSettled) {
      existing.adopt(message.receiptHandle);
      this.metrics.recordMessage('duplicate', 'redelivered_while_in_flight');
      this.log.debug(`message ${message.messageId} redelivered while in flight; keeping it, newer receipt handle adopted`);
      return;
    }
    this.log.debug(`reading message id=${message.messageId}`);
    const lease = new MessageLease(message, this.queue, this.config.visibilityTimeoutSeconds, this.log);
    this.leases.set(message.messageId, lease);
    const handled: Promise<void> = this.handler(message, lease)
      .catch((e: unknown) => this.log.error(`unexpected error handling message ${message.messageId}: ${describeError(e)}`, { error: e }))
      .finally(() => {
        lease.close();
        if (this.leases.get(message.messageId) === lease) this.leases.delete(message.messageId);
        this.handling.delete(handled);
        this.metrics.activeGoroutines.set(1 + this.handling.size);
        this.wake?.();
      });
    this.handling.add(handled);
    this.metrics.activeGoroutines.set(1 + this.handling.size);
  }

  private waitForRoom(signal: AbortSignal): Promise<void> {
    this.waitingForRoom = true;
    return new Promise((resolve) => {
      const done = (): void => {
        this.waitingForRoom = false;
        this.wake = undefined;
        signal.removeEventListener('abort', done);
        resolve();
      };
      this.wake = done;
      signal.addEventListener('abort', done, { once: true });
    });
  }
}
