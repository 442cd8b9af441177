import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { TransientError } from '../lifecycle/errors.js';
import type { Logger } from '../observability/logger.js';
import { CallBudget } from './callBudget.js';
import type { TargetGroupSummary, TargetGroupsPort, TargetHealth } from './ports.js';
import { RegionScan } from './regionScan.js';

const group = (name: string): TargetGroupSummary => ({ arn: `arn:aws:elasticloadbalancing:us-west-2:1:targetgroup/${name}/1`, name, targetType: 'instance', vpcId: 'vpc-1' });

/** Two groups: `stuck` keeps failing (each call times out after 2 s), `fine` answers. */
class OneStuckGroup implements TargetGroupsPort {
  calls = 0;
  async listTargetGroups(): Promise<TargetGroupSummary[]> { return [group('stuck'), group('fine')]; }
  async describeTargetHealth(arn: string, _t: unknown, signal: AbortSignal): Promise<TargetHealth[]> {
    if (arn.includes('/fine/')) return [{ id: 'i-1', port: 80, state: 'healthy', reason: undefined }];
    this.calls++;
    await new Promise((resolve, reject) => {
      const t = setTimeout(resolve, 2_000);
      signal.addEventListener('abort', () => { clearTimeout(t); reject(signal.reason); }, { once: true });
    });
    throw new TransientError('RequestTimeout: no answer within 2s');
  }
  async deregisterTargets(): Promise<'deregistered'> { return 'deregistered'; }
  async deregistrationDelaySeconds(): Promise<number> { return 0; }
}

function recordingLog(lines: string[]): Logger {
  const log: Logger = {
    debug: () => {}, info: () => {}, error: (m) => lines.push(`error ${m}`), warn: (m) => lines.push(`warn ${m}`), child: () => log,
  };
  return log;
}

describe('RegionScan', () => {
  beforeEach(() => vi.useFakeTimers({ now: 0 }));
  afterEach(() => vi.useRealTimers());

  it('gives up on a target group that keeps failing after its own bound, keeps the others, and says why', async () => {
    const port = new OneStuckGroup();
    const lines: string[] = [];
    const log = recordingLog(lines);
    const budget = new CallBudget({ ratePerSecond: 100, burst: 100, maxConcurrent: 10, backoff: { minMs: 1_000, maxMs: 1_000 }, log });
    const scan = new RegionScan({ targetGroups: port, classic: undefined, budget, log, concurrency: 10, timeoutMs: 15 * 60_000, groupReadTimeoutMs: 15_000 });

    const pending = scan.snapshot(0, new AbortController().signal);
    await vi.advanceTimersByTimeAsync(15_000);
    const snapshot = await pending;

    expect(Date.now()).toBe(15_000);
    expect(snapshot.byTargetId.get('i-1')?.map((t) => t.group.name)).toEqual(['fine']);
    expect(snapshot.failedGroups.map((f) => [f.group.name, f.failureClass])).toEqual([['stuck', 'timeout']]);
    expect(snapshot.failedGroups[0]?.error).toBe(`no answer within 15s (DescribeTargetHealth failed 5 times, last: RequestTimeout: no answer within 2s)`);
    expect(lines.filter((l) => l.includes('could not read target group'))).toEqual([
      `warn could not read target group stuck during the scan within 15s (DescribeTargetHealth failed 5 times, last: RequestTimeout: no answer within 2s); the events whose instance might be in it report it`,
    ]);
    expect(port.calls).toBe(5); // 2 s per call, 1 s backoff: calls at 0, 3, 6, 9 and 12 s; the bound ends the 5th backoff
  });
});
