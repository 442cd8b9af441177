import { describe, expect, it } from 'vitest';
import { createLogger } from '../observability/logger.js';
import { requiredMaxReceiveCount } from './clusterScope.js';
import { SharedQueueWatch } from './sharedQueue.js';

function watch(maxReceiveCount: number | undefined, clusterName: string | null = 'blue') {
  const lines: string[] = [];
  const log = createLogger({ level: 'info', format: 'text', write: (l) => lines.push(l) });
  return { lines, log, watch: new SharedQueueWatch({ queueName: 'q', clusterName: clusterName ?? undefined, maxReceiveCount, log }) };
}

describe('SharedQueueWatch', () => {
  it('sizes a shared queue: 19 receives for 2 clusters, 28 for 3, 38 for 4', () => {
    expect([1, 2, 3, 4].map(requiredMaxReceiveCount)).toEqual([5, 19, 28, 38]);
  });

  it('warns at startup when a shared queue cannot survive even two clusters, and not when it can', () => {
    const small = watch(5);
    small.watch.checkAtStartup();
    expect(small.lines.join('\n')).toMatch(/shared by at least 2 clusters but sends a message to its dead-letter queue after 5 receives.*Raise the redrive policy's maxReceiveCount to 19 or more/u);
    const roomy = watch(19);
    roomy.watch.checkAtStartup();
    expect(roomy.lines).toEqual([]);
    const alone = watch(5, null);
    alone.watch.checkAtStartup();
    expect(alone.lines).toEqual([]);
  });

  it('warns again when more clusters show up than the count allows, and for a message one receive away from the DLQ', () => {
    const w = watch(19);
    expect(w.watch.foreignMessage(1, ['green'], w.log)).toBe(false);
    expect(w.lines).toEqual([]);
    w.watch.foreignMessage(2, ['red'], w.log);
    expect(w.lines.join('\n')).toMatch(/shared by at least 3 clusters .* to 28 or more/u);
    expect(w.watch.foreignMessage(18, ['red'], w.log)).toBe(true);
    expect(w.lines.at(-1)).toMatch(/received 18 times; queue q moves it to its dead-letter queue after 19/u);
  });
});
