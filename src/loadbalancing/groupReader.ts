import { describeError, isAbort, isResourceGone } from '../lifecycle/errors.js';
import { type FailureClass, failureClass } from '../lifecycle/step.js';
import type { Logger } from '../observability/logger.js';
import type { CallBudget } from './callBudget.js';
import type { TargetGroupSummary, TargetGroupsPort, TargetHealth } from './ports.js';

/** Target types whose targets can be an instance or one of its IP addresses (not lambda, not alb). */
export const INDEXED_TARGET_TYPES: ReadonlySet<string> = new Set(['instance', 'ip']);

/** What one read of a target group found. */
export type GroupContent =
  | { readonly kind: 'targets'; readonly summary: TargetGroupSummary; readonly targets: readonly TargetHealth[] }
  | { readonly kind: 'gone' };

/** A read that failed: what the events whose instance might be in the group report. */
export class GroupReadError extends Error {
  override readonly name = 'GroupReadError';
  constructor(readonly groupName: string, readonly what: string, readonly failureClass: FailureClass) {
    super(what);
  }
}

export interface GroupReaderDeps {
  readonly port: TargetGroupsPort;
  readonly budget: CallBudget;
  readonly log: Logger;
  /** Bound on one group's read, its retries included. */
  readonly timeoutMs: number;
}

/**
 * Reads one target group's registered and draining targets (one unfiltered DescribeTargetHealth, retried through the
 * call budget within the group's own bound), looking the group up first when only its ARN is known (a binding, an
 * Auto Scaling group). A group that no longer exists is `gone`; any other failure is a GroupReadError naming the
 * call, how often it failed and how — it fails this group only.
 */
export async function readTargetGroup(deps: GroupReaderDeps, arn: string, known: TargetGroupSummary | undefined, sent: () => void, signal: AbortSignal): Promise<GroupContent> {
  const { port, budget, log } = deps;
  let failures = 0;
  let lastError: string | undefined;
  const onRetry = (e: unknown): void => { failures += 1; lastError = describeError(e); };
  let summary = known;
  const name = summary?.name ?? arn.split('/')[1] ?? arn;
  try {
    summary ??= await budget.run('DescribeTargetGroups', signal, () => { sent(); return port.describeTargetGroup({ arn }, signal); }, onRetry);
    if (!summary) return { kind: 'gone' };
    if (!INDEXED_TARGET_TYPES.has(summary.targetType)) return { kind: 'targets', summary, targets: [] };
    const targets = await budget.run('DescribeTargetHealth', signal, () => { sent(); return port.describeTargetHealth(arn, undefined, signal); }, onRetry);
    return { kind: 'targets', summary, targets };
  } catch (e) {
    if (isResourceGone(e)) return { kind: 'gone' };
    if (isAbort(e) && signal.aborted) {
      const seen = lastError ? `DescribeTargetHealth failed ${failures} ${failures === 1 ? 'time' : 'times'}, last: ${lastError}` : 'DescribeTargetHealth never answered';
      log.warn(`could not read target group ${name} within ${deps.timeoutMs / 1000}s (${seen}); it is read again later, and the events whose instance might be in it report it`);
      throw new GroupReadError(name, `no answer within ${deps.timeoutMs / 1000}s (${seen})`, 'timeout');
    }
    log.warn(`could not read target group ${name}: ${describeError(e)}`, { error: e });
    throw new GroupReadError(name, describeError(e), failureClass(e, false));
  }
}
