import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { expect } from 'vitest';
import type { FailureClass } from '../../src/lifecycle/step.js';
import type { stepRows } from '../../src/lifecycle/terminationSteps.js';
import { eventually } from '../harness/infra.js';
import type { LifecycleManagerProcess } from '../harness/lifecycleManager.js';
import type { LifecycleActionRecord } from '../harness/moto.js';
import type { World, WorldInstance } from '../harness/world.js';
import type { e2eFixture } from './fixture.js';

export interface MatrixCase {
  readonly world: World;
  readonly victim: WorldInstance;
  /** Another node of the same group: nothing may happen to it. */
  readonly bystander: WorldInstance;
  readonly step: ReturnType<typeof stepRows>[number];
  readonly failure: FailureClass;
  targetGroupArn: string | undefined;
  readonly f: ReturnType<typeof e2eFixture>;
}

/** What a user sees at the end, by the step's declared policy and the failure class. */
type Expected = 'ridden-out' | 'released' | 'degraded' | 'abandoned' | 'left-to-aws' | 'settle-failed' | 'escalated';

function expectedOutcome(c: MatrixCase): Expected {
  if (c.failure === 'transient' || c.failure === 'timeout') return 'ridden-out';
  // A pod that cannot be evicted is the drain's own business: after the drain budget it is deleted gracefully.
  if (c.step.name === 'drain') return 'escalated';
  switch (c.step.onFailure) {
    case 'release-message': return 'released';
    case 'degrade-and-continue': return 'degraded';
    case 'abandon': return 'abandoned';
    case 'leave-to-aws': return 'left-to-aws';
    case 'log-and-continue': return 'settle-failed';
  }
}

const CODES: Record<'transient' | 'timeout', readonly string[]> = { transient: ['500', '503'], timeout: ['timeout'] };

/** Checks what a user would check for this case; `lift` removes the injected faults (for the policies that wait for that). */
export async function assertOutcome(c: MatrixCase, lm: LifecycleManagerProcess, lift: () => void): Promise<void> {
  const expected = expectedOutcome(c);
  const { f, victim, world, step } = c;
  const hasNode = step.name !== 'await_node';
  if (expected === 'released') {
    // Nothing is touched while the action cannot be verified or claimed; the message waits for a later try.
    await eventually('the message to be left for redelivery', async () =>
      (await lm.metric('lifecycle_manager_messages_total', { outcome: 'left_for_redelivery', reason: `${step.name}_${c.failure}` })) >= 1, 60_000);
    expect((await f.kubelet.core.readNode({ name: victim.nodeName })).spec?.unschedulable ?? false).toBe(false);
    expect((await world.podsOn(victim.nodeName)).length).toBe(1);
    expect((await f.actions(victim.instanceId))[0]?.result ?? null).toBeNull();
    const reasons = (await world.nodeEvents(victim.nodeName)).map((e) => e.reason);
    // An unverified message writes nothing on any Node; a verified one that cannot be claimed says so on its Node.
    if (step.name === 'verify') expect(reasons).toEqual([]);
    else expect(reasons).toContain('LifecycleStepFailed');
    lift();
  }
  const action = await ended(c, expected === 'released' ? 120_000 : 90_000);
  if (expected === 'left-to-aws') {
    // Nothing could complete it: AWS applied the hook's DefaultResult when its HeartbeatTimeout passed.
    expect({ source: action.resultSource, completes: action.completeCalls }).toEqual({ source: 'expired', completes: 0 });
  } else {
    expect({ result: action.result, source: action.resultSource, completes: action.completeCalls })
      .toEqual({ result: expected === 'abandoned' ? 'ABANDON' : 'CONTINUE', source: 'complete', completes: 1 });
  }
  if (hasNode) {
    drainedBeforeRelease(lm, victim);
    // (A DaemonSet pod stays, as with kubectl drain.)
    const left = (await world.podsOn(victim.nodeName)).filter((p) => !p.metadata?.ownerReferences?.some((o) => o.kind === 'DaemonSet'));
    expect(left.length, 'the victim\'s pods are gone').toBe(0);
  }
  await untouched(c);
  const reasons = hasNode ? (await world.nodeEvents(victim.nodeName)).map((e) => e.reason) : [];
  const stepFailures = await lm.metric('lifecycle_manager_step_failures_total', { step: step.name });
  switch (expected) {
    case 'ridden-out': {
      expect(stepFailures, 'a failure ridden out is not a step failure').toBe(0);
      expect(reasons).not.toContain('LifecycleStepFailed');
      const api = ['verify', 'deregister', 'complete', 'settle'].includes(step.name) ? 'aws' : 'kubernetes';
      const errors = async (): Promise<number> => {
        let n = 0;
        for (const code of CODES[c.failure as 'transient' | 'timeout']) n += await lm.metric('lifecycle_manager_api_errors_total', { api, code });
        return n;
      };
      // The settle step runs after the completion this waited for: its hung call may still be within --api-timeout.
      await eventually('the failed attempts to be counted', async () => ((await errors()) > 0 ? true : undefined), 20_000, 200).catch(() => undefined);
      expect(await errors(), 'the failed attempts are counted').toBeGreaterThan(0);
      if (step.name === 'deregister') expect(await targetIds(c)).toEqual([c.bystander.instanceId]);
      break;
    }
    case 'released':
    case 'degraded':
    case 'abandoned':
    case 'left-to-aws':
    case 'settle-failed':
      expect(stepFailures, 'the step failure is counted').toBeGreaterThanOrEqual(1);
      // On the Node, unless nothing proved the message real yet (verification): a forged one must write nothing.
      // Events are published in the background: the settle step's comes after the completion AWS recorded.
      if (hasNode && step.name !== 'verify') {
        await eventually('the LifecycleStepFailed Event on the Node', async () => (await world.nodeEvents(victim.nodeName)).some((e) => e.reason === 'LifecycleStepFailed'), 15_000, 250);
      }
      break;
    case 'escalated':
      expect(reasons).toEqual(expect.arrayContaining(['PodEvictionRefused', 'NodeDrainFailed', 'GracefulPodDeletionAfterDrainFailed']));
      expect(await lm.metric('lifecycle_manager_pod_evictions_total', { outcome: 'refused' })).toBeGreaterThanOrEqual(1);
      break;
  }
  if (expected === 'degraded' && step.name === 'delete_node') expect(await world.nodeExists(victim.nodeName)).toBe(true);
  if (expected === 'degraded' && step.name === 'deregister') {
    // The victim could not leave its target group (AWS drains it once the instance terminates); the bystander stays.
    expect(await targetIds(c)).toContain(c.bystander.instanceId);
    expect(reasons).toContain('TargetDeregisterFailed');
  }
  if (expected === 'settle-failed') {
    // The message could not be deleted: it is still there (never lost), and once the fault is gone it is dropped
    // as stale on its next delivery — without a second drain or completion.
    expect(await queueDepth(c)).toBeGreaterThanOrEqual(1);
    lift();
    await eventually('the stale message to be deleted', async () => (await queueDepth(c)) === 0, 60_000, 500);
    expect((await f.actions(victim.instanceId))[0]?.completeCalls).toBe(1);
    expect(lm.countLogs(new RegExp(`${victim.instanceId}> draining node/`, 'u'))).toBe(1);
  } else {
    await eventually('the queue to be empty', async () => (await queueDepth(c)) === 0, 30_000, 500);
  }
}

async function ended(c: MatrixCase, timeoutMs: number): Promise<LifecycleActionRecord> {
  return eventually('the lifecycle action to end', async () => (await c.f.actions(c.victim.instanceId)).find((a) => a.result !== null), timeoutMs, 300);
}

/** The victim's pods were gone (drained, or deleted by the escalation) before the service completed the action. */
function drainedBeforeRelease(lm: LifecycleManagerProcess, victim: WorldInstance): void {
  const lines = lm.logs();
  const drained = lines.findIndex((l) => l.includes(`${victim.instanceId}> `) && /(completed drain for node|graceful force-delete succeeded)/u.test(l));
  const released = lines.findIndex((l) => l.includes(`${victim.instanceId}> `) && /(setting lifecycle event as completed|step complete failed)/u.test(l));
  expect(drained, 'the drain finished').toBeGreaterThan(-1);
  expect(released, 'the action was completed after it').toBeGreaterThan(drained);
}

/** The other node of the group kept its pod and stayed schedulable. */
async function untouched(c: MatrixCase): Promise<void> {
  const node = await c.f.kubelet.core.readNode({ name: c.bystander.nodeName });
  expect(node.spec?.unschedulable ?? false).toBe(false);
  expect((await c.world.podsOn(c.bystander.nodeName)).length).toBe(1);
}

async function targetIds(c: MatrixCase): Promise<string[]> {
  const { DescribeTargetHealthCommand } = await import('@aws-sdk/client-elastic-load-balancing-v2');
  const out = await c.f.aws.elbv2.send(new DescribeTargetHealthCommand({ TargetGroupArn: c.targetGroupArn! }));
  return (out.TargetHealthDescriptions ?? []).filter((t) => t.TargetHealth?.State !== 'draining').map((t) => t.Target!.Id!);
}

async function queueDepth(c: MatrixCase): Promise<number> {
  const out = await c.f.aws.sqs.send(new GetQueueAttributesCommand({ QueueUrl: c.world.queueUrl, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }));
  return Number(out.Attributes?.['ApproximateNumberOfMessages'] ?? 0) + Number(out.Attributes?.['ApproximateNumberOfMessagesNotVisible'] ?? 0);
}
