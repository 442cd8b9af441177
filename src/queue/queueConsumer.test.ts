import { afterEach, describe, expect, it, vi } from 'vitest';
import type { QueueMessage, QueuePort } from '../lifecycle/ports.js';
import { silentLogger } from '../observability/logger.js';
import { Metrics } from '../observability/metrics.js';
import { QueueConsumer } from './queueConsumer.js';

/** A queue whose receives are scripted batches; every other call is recorded. */
class ScriptedQueue implements QueuePort {
  calls: string[] = [];
  constructor(readonly batches: QueueMessage[][], private readonly stop: AbortController) {}
  /** Like a long poll: waits up to 200 ms for a batch; an empty poll ends the test run. */
  async receive() {
    for (let i = 0; i < 20 && this.batches.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    const next = this.batches.shift();
    if (!next) this.stop.abort();
    return next ?? [];
  }
  async delete(handle: string) { this.calls.push(`delete ${handle}`); }
  async changeVisibility(handle: string, seconds: number) { this.calls.push(`visibility ${handle} ${seconds}`); }
}

const message = (receiptHandle: string): QueueMessage => ({ messageId: 'm1', body: '{}', receiptHandle, receiveCount: 1, sentAtMs: 0, firstReceivedAtMs: 0 });

describe('QueueConsumer', () => {
  it('treats a redelivery of a message still being handled as the same message and adopts its newer receipt handle', async () => {
    const stop = new AbortController();
    const queue = new ScriptedQueue([[message('rh-1')], [message('rh-2')]], stop);
    const handled: string[] = [];
    const consumer = new QueueConsumer(queue, { queueName: 'q', waitTimeSeconds: 1, visibilityTimeoutSeconds: 60, maxInFlight: 10, apiTimeoutSeconds: 5 }, async (m, lease) => {
      handled.push(m.receiptHandle);
      await new Promise((r) => setTimeout(r, 50)); // still in flight when rh-2 arrives
      await lease.delete(new AbortController().signal);
    }, silentLogger, new Metrics({ defaultMetrics: false }));
    await consumer.run(stop.signal);
    expect(handled).toEqual(['rh-1']);
    expect(queue.calls).toEqual(['delete rh-2']); // settled with the newest handle, which SQS honours
  });

  it('handles again a message that comes back after it was released, even before its first handler has returned', async () => {
    const stop = new AbortController();
    let releaseDone: () => void = () => {};
    const released = new Promise<void>((r) => { releaseDone = r; });
    const queue = new ScriptedQueue([[message('rh-1')]], stop);
    const handled: string[] = [];
    const consumer = new QueueConsumer(queue, { queueName: 'q', waitTimeSeconds: 1, visibilityTimeoutSeconds: 60, maxInFlight: 10, apiTimeoutSeconds: 5 }, async (m, lease) => {
      handled.push(m.receiptHandle);
      if (m.receiptHandle === 'rh-1') {
        await lease.release(0, new AbortController().signal);
        releaseDone();
        await new Promise((r) => setTimeout(r, 50)); // the handler is still finishing when the message returns
      } else {
        await lease.delete(new AbortController().signal);
      }
    }, silentLogger, new Metrics({ defaultMetrics: false }));
    void released.then(() => queue.batches.push([message('rh-2')]));
    await consumer.run(stop.signal);
    expect(handled).toEqual(['rh-1', 'rh-2']);
    expect(queue.calls).toEqual(['visibility rh-1 0', 'delete rh-2']);
  });

  describe('a backlog', () => {
    /** A queue holding `count` messages; each receive takes 20 ms and hands out up to the number asked for. */
    class BackloggedQueue implements QueuePort {
      receives = 0;
      concurrent = 0;
      maxConcurrent = 0;
      private idleBudget: number;
      constructor(private waiting: number, private readonly stop: AbortController, idleReceivesBeforeStop = 3) {
        this.idleBudget = idleReceivesBeforeStop;
      }
      async receive(options: { maxMessages: number }) {
        this.receives++;
        this.concurrent++;
        this.maxConcurrent = Math.max(this.maxConcurrent, this.concurrent);
        await new Promise((r) => setTimeout(r, 20));
        this.concurrent--;
        const n = Math.min(options.maxMessages, this.waiting);
        this.waiting -= n;
        if (n === 0 && --this.idleBudget <= 0) this.stop.abort();
        return Array.from({ length: n }, () => ({ ...message(`rh-${this.waiting + n}`), messageId: `m-${Math.random()}` }));
      }
      async delete() {}
      async changeVisibility() {}
    }

    it('is received by several receives at once, never more messages in flight than --max-in-flight', async () => {
      const stop = new AbortController();
      const queue = new BackloggedQueue(200, stop);
      let inFlight = 0;
      let maxInFlight = 0;
      let handled = 0;
      const consumer = new QueueConsumer(queue, { queueName: 'q', waitTimeSeconds: 0, visibilityTimeoutSeconds: 60, maxInFlight: 120, apiTimeoutSeconds: 5 }, async () => {
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        await new Promise((r) => setTimeout(r, 100));
        inFlight--;
        handled++;
      }, silentLogger, new Metrics({ defaultMetrics: false }));
      await consumer.run(stop.signal);
      expect(handled).toBe(200);
      expect(queue.maxConcurrent).toBe(5); // the long poll and four more while batches come back full
      expect(maxInFlight).toBeLessThanOrEqual(120);
    });

    it('costs one receive at a time once the queue is empty', async () => {
      const stop = new AbortController();
      const queue = new BackloggedQueue(5, stop, 5);
      const consumer = new QueueConsumer(queue, { queueName: 'q', waitTimeSeconds: 0, visibilityTimeoutSeconds: 60, maxInFlight: 100, apiTimeoutSeconds: 5 },
        async () => {}, silentLogger, new Metrics({ defaultMetrics: false }));
      await consumer.run(stop.signal);
      expect(queue.maxConcurrent).toBe(1);
      expect(queue.receives).toBe(6); // one that returned the 5, then the idle polls
    });
  });

  describe('liveness', () => {
    afterEach(() => vi.useRealTimers());

    it('is alive while its loop goes round, not once a receive is stuck past every bound, and not once the loop has ended', async () => {
      vi.useFakeTimers();
      const stop = new AbortController();
      let stuck = false;
      const queue: QueuePort = {
        // A stuck receive ignores its signal and never answers.
        receive: async () => { if (stuck) return new Promise<QueueMessage[]>(() => {}); await new Promise((r) => setTimeout(r, 1_000)); return []; },
        delete: async () => {}, changeVisibility: async () => {},
      };
      const consumer = new QueueConsumer(queue, { queueName: 'q', waitTimeSeconds: 1, visibilityTimeoutSeconds: 60, maxInFlight: 10, apiTimeoutSeconds: 5 },
        async () => {}, silentLogger, new Metrics({ defaultMetrics: false }));
      expect(consumer.isAlive()).toBe(false); // not started
      const running = consumer.run(stop.signal);
      await vi.advanceTimersByTimeAsync(10_000);
      expect(consumer.isAlive()).toBe(true);
      stuck = true;
      await vi.advanceTimersByTimeAsync(5_000);
      expect(consumer.isAlive()).toBe(true); // a long poll takes a while
      await vi.advanceTimersByTimeAsync(120_000);
      expect(consumer.isAlive()).toBe(false); // stuck in one receive for longer than poll + request bound + backoff
      void running.catch(() => undefined);
    });

    it('is not alive once its loop has ended', async () => {
      const stop = new AbortController();
      const queue = new ScriptedQueue([], stop);
      const consumer = new QueueConsumer(queue, { queueName: 'q', waitTimeSeconds: 1, visibilityTimeoutSeconds: 60, maxInFlight: 10, apiTimeoutSeconds: 5 },
        async () => {}, silentLogger, new Metrics({ defaultMetrics: false }));
      const running = consumer.run(stop.signal);
      expect(consumer.isAlive()).toBe(true);
      await running;
      expect(consumer.isAlive()).toBe(false);
    });
  });
});
