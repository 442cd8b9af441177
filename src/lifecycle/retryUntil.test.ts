import { describe, expect, it } from 'vitest';
import { createLogger } from '../observability/logger.js';
import { TransientError } from './errors.js';
import { isReportableFailure, retryUntil } from './retryUntil.js';

describe('retryUntil', () => {
  it('logs a call that keeps failing at warn with its operation and count, instead of retrying silently', async () => {
    const lines: string[] = [];
    const log = createLogger({ level: 'info', format: 'text', write: (l) => lines.push(l) });
    let calls = 0;
    const result = await retryUntil(async () => {
      if (++calls <= 4) throw new TransientError('list pods: HTTP 503: unavailable', false);
      return 'ok';
    }, new AbortController().signal, { backoff: { minMs: 1, maxMs: 2 }, operation: 'list pods on node n1', log });
    expect(result).toBe('ok');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/level=warning msg="list pods on node n1 has failed 3 times in a row \(list pods: HTTP 503: unavailable\); still retrying"/u);
  });

  it('reports at the 3rd consecutive failure and every 10th after', () => {
    expect([1, 2, 3, 4, 12, 13, 23].map(isReportableFailure)).toEqual([false, false, true, false, false, true, true]);
  });
});
