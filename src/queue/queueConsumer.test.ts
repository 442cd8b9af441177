import { describe, expect, it } from 'vitest';
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

const message = (receiptHandle: string): QueueMessage => ({ messageId: 'm1', body: '{}', receiptHandle, receiveCount: 1, sentAtMs: 0 });

describe('QueueConsumer', () => {
  it('treats a redelivery of a message still being handled as the same message and adopts its newer receipt handle', async () => {
    const stop = new AbortController();
    const queue = new ScriptedQueue([[message('rh-1')], [message('rh-2')]], stop);
    const handled: string[] = [];
    const consumer = new QueueConsumer(queue, { queueName: 'q', waitTimeSeconds: 1, visibilityTimeoutSeconds: 60, maxInFlight: 10 }, async (m, lease) => {
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
    const consumer = new QueueConsumer(queue, { queueName: 'q', waitTimeSeconds: 1, visibilityTimeoutSeconds: 60, maxInFlight: 10 }, async (m, lease) => {
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
});
