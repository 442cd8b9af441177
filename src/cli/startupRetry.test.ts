import { describe, expect, it } from 'vitest';
import { AccessDeniedError, TransientError } from '../lifecycle/errors.js';
import { silentLogger } from '../observability/logger.js';
import { retriedAtStartup } from './startupRetry.js';

describe('retriedAtStartup', () => {
  it('tries a transient failure again and returns what the next attempt answers', async () => {
    let calls = 0;
    const answer = await retriedAtStartup('reach the queue', async () => {
      calls++;
      if (calls < 3) throw new TransientError('sqs:GetQueueUrl: TimeoutError', false);
      return 'https://queue';
    }, silentLogger, new AbortController().signal);
    expect({ answer, calls }).toEqual({ answer: 'https://queue', calls: 3 });
  });

  it('fails at once on a permanent answer, and after its bound on a failure that stays transient', async () => {
    let calls = 0;
    await expect(retriedAtStartup('reach the queue', async () => { calls++; throw new AccessDeniedError('sqs:GetQueueUrl', 'denied'); }, silentLogger, new AbortController().signal)).rejects.toThrow(AccessDeniedError);
    expect(calls).toBe(1);
    calls = 0;
    await expect(retriedAtStartup('reach the queue', async () => { calls++; throw new TransientError('connect ECONNREFUSED', false); }, silentLogger, new AbortController().signal, 1_000)).rejects.toThrow(/ECONNREFUSED/u);
    // 0.5 s, then a 1 s wait would pass the 1 s bound: two attempts.
    expect(calls).toBe(2);
  });
});
