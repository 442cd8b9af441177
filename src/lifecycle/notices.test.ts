import { describe, expect, it } from 'vitest';
import { counter, pod, setup } from '../../test/unit/fakes/workflow.js';
import { AccessDeniedError } from './errors.js';
import { ActionNotices } from './notices.js';
import type { ActionNotice, LifecycleAction, NoticeEvent, NoticeLedger, Notifier } from './ports.js';
import { actionKey } from './action.js';

/** A notifier that only remembers what it was handed. */
class FakeNotifier implements Notifier {
  readonly sent: ActionNotice[] = [];
  constructor(private readonly events: readonly NoticeEvent[] = ['received', 'drained', 'completed', 'failed']) {}
  wants(event: NoticeEvent) { return this.events.includes(event); }
  send(notice: ActionNotice) { this.sent.push(notice); }
  async flush() {}
}

/** The ledger as a Lease would keep it: per action, the events recorded; `hang` never answers. */
class FakeLedger implements NoticeLedger {
  readonly recorded = new Map<string, NoticeEvent[]>();
  hang = false;
  fail: Error | undefined;
  async recordNotice(action: LifecycleAction, event: NoticeEvent, signal: AbortSignal) {
    if (this.hang) await new Promise((_r, reject) => signal.addEventListener('abort', () => reject(signal.reason), { once: true }));
    if (this.fail) throw this.fail;
    const sent = this.recorded.get(actionKey(action)) ?? [];
    if (sent.includes(event)) return 'already-recorded' as const;
    this.recorded.set(actionKey(action), [...sent, event]);
    return 'recorded' as const;
  }
}

function withNotices(options: { events?: NoticeEvent[]; ledger?: FakeLedger; dryRun?: boolean } = {}) {
  const notifier = new FakeNotifier(options.events);
  const ledger = options.ledger ?? new FakeLedger();
  const t0 = setup({ withStore: true });
  const notices = new ActionNotices(notifier, ledger, t0.metrics);
  const t = setup({ withStore: true, deps: { notices, metrics: t0.metrics }, config: { dryRun: options.dryRun ?? false } });
  return { t, notifier, ledger, notices, metrics: t0.metrics };
}

/** Waits for the records being written (each notice is handed over once its record is). */
const settled = (notices: ActionNotices) => notices.flush(new AbortController().signal);

describe('webhook notices', () => {
  it('tells received, drained and completed once each, in that order, with what a reader needs', async () => {
    const { t, notifier, notices } = withNotices();
    t.cluster.pods = [pod('a')];
    const [m, lease] = t.message();
    await t.workflow.handleMessage(m, lease);
    await settled(notices);
    expect(notifier.sent.map((n) => n.event)).toEqual(['received', 'drained', 'completed']);
    expect(notifier.sent[2]).toMatchObject({ result: 'CONTINUE', nodeName: 'n1', action: { instanceId: 'i-0123456789abcdef0', autoScalingGroupName: 'g' }, degradedSteps: [] });
  });

  it('tells failed, with the cause, when the drain fails and the action is completed ABANDON; no drained, no completed', async () => {
    const { t, notifier, notices } = withNotices();
    t.cluster.pods = [pod('a')];
    t.cluster.refuseEvictions = true;
    const [m, lease] = t.message();
    await t.workflow.handleMessage(m, lease);
    await settled(notices);
    expect(t.autoScaling.completions).toEqual(['ABANDON']);
    expect(notifier.sent.map((n) => n.event)).toEqual(['received', 'failed']);
    expect(notifier.sent[1]).toMatchObject({ result: 'ABANDON', cause: expect.stringMatching(/^drain: /u) });
  });

  it('tells failed when AWS refuses the completion (the hook ends with its DefaultResult)', async () => {
    const { t, notifier, notices } = withNotices();
    t.autoScaling.completeError = new AccessDeniedError('autoscaling:CompleteLifecycleAction', 'AccessDenied');
    const [m, lease] = t.message();
    await t.workflow.handleMessage(m, lease);
    await settled(notices);
    expect(notifier.sent.map((n) => n.event)).toEqual(['received', 'drained', 'failed']);
    expect(notifier.sent[2]).toMatchObject({ result: undefined, cause: expect.stringMatching(/could not be completed .*DefaultResult/u) });
  });

  it('--dry-run: one received notice carrying the plan, not recorded (a dry run writes no Lease); nothing else', async () => {
    const { t, notifier, notices, ledger } = withNotices({ dryRun: true });
    t.cluster.pods = [pod('a')];
    const [m, lease] = t.message();
    await t.workflow.handleMessage(m, lease);
    await settled(notices);
    expect(t.autoScaling.completions).toEqual([]);
    expect(notifier.sent.map((n) => n.event)).toEqual(['received']);
    expect(notifier.sent[0]!.dryRunPlan).toMatch(/^would cordon node n1; .*would drain: /u);
    expect(ledger.recorded.size).toBe(0);
  });

  it('sends only the events asked for (--webhook-events)', async () => {
    const { t, notifier, notices } = withNotices({ events: ['completed', 'failed'] });
    const [m, lease] = t.message();
    await t.workflow.handleMessage(m, lease);
    await settled(notices);
    expect(notifier.sent.map((n) => n.event)).toEqual(['completed']);
  });

  it('does not send again what the action\'s record says was sent (a resumed action, another replica)', async () => {
    const ledger = new FakeLedger();
    const { t, notifier, metrics, notices } = withNotices({ ledger });
    ledger.recorded.set('g/h/i-0123456789abcdef0', ['received']);
    const [m, lease] = t.message();
    await t.workflow.handleMessage(m, lease);
    await settled(notices);
    expect(notifier.sent.map((n) => n.event)).toEqual(['drained', 'completed']);
    expect(await counter(metrics.webhookDeliveries, { event: 'received', outcome: 'suppressed' })).toBe(1);
  });

  it('sends nothing whose record cannot be written (at most once), and counts it', async () => {
    const ledger = new FakeLedger();
    ledger.fail = new Error('apiserver unreachable');
    const { t, notifier, metrics, notices } = withNotices({ ledger });
    const [m, lease] = t.message();
    await t.workflow.handleMessage(m, lease);
    await settled(notices);
    expect(t.autoScaling.completions).toEqual(['CONTINUE']);
    expect(notifier.sent).toEqual([]);
    expect(await counter(metrics.webhookDeliveries, { outcome: 'not_recorded' })).toBe(3);
  });

  it('never holds the action up: a record that never gets written does not delay the drain or the completion', async () => {
    const ledger = new FakeLedger();
    ledger.hang = true;
    const { t, notifier, notices } = withNotices({ ledger });
    t.cluster.pods = [pod('a')];
    const [m, lease] = t.message();
    await t.workflow.handleMessage(m, lease);
    expect(t.autoScaling.completions).toEqual(['CONTINUE']);
    expect(lease.settled).toEqual(['deleted']);
    expect(notifier.sent).toEqual([]);
  });
});
