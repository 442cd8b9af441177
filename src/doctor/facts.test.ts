import { describe, expect, it } from 'vitest';
import { FakeAwsAdmin } from '../../test/unit/fakes/awsAdmin.js';
import { TransientError } from '../lifecycle/errors.js';
import type { KubePermission } from '../kube/permissions.js';
import type { DoctorSettings } from './doctorSettings.js';
import { gatherFacts } from './facts.js';
import type { AccessReviewer, PermissionSimulator, SimulationOutcome } from './ports.js';

const settings: DoctorSettings = {
  region: 'us-east-1', queueName: 'lm', groupNames: [], hookName: 'lifecycle-manager', expectedDefaultResult: 'CONTINUE',
  principalArn: undefined, localMode: '', leaseNamespace: 'lifecycle-manager',
  drain: { drainTimeoutSeconds: 300, drainRetries: 3, drainIntervalSeconds: 30, maxTerminationGracePeriodSeconds: 900, maxTimeToProcessSeconds: 3600 },
  visibilityTimeoutSeconds: 60, pollingIntervalSeconds: 10, withDeregister: false, deregisterTargetTypes: [],
};
const ARN = 'arn:aws:sqs:us-east-1:123456789012:';

class FakeSimulator implements PermissionSimulator {
  readonly asked: { principal: string; actions: readonly string[]; resources: readonly string[] }[] = [];
  constructor(private readonly answer: (actions: readonly string[]) => SimulationOutcome) {}
  async callerArn(): Promise<string> {
    return 'arn:aws:iam::123456789012:role/admin';
  }
  async simulate(principal: string, actions: readonly string[], resources: readonly string[]): Promise<SimulationOutcome> {
    this.asked.push({ principal, actions, resources });
    return this.answer(actions);
  }
}

const reviewer = (allowed: (p: KubePermission) => boolean | Error): AccessReviewer => ({
  identity: 'kubeconfig context \'t\'',
  allowed: async (p) => {
    const a = allowed(p);
    if (a instanceof Error) throw a;
    return a;
  },
});

describe('gatherFacts', () => {
  it('finds, without group names, only the hooks that notify this queue', async () => {
    const aws = new FakeAwsAdmin();
    aws.addQueue('lm');
    aws.addHook({ autoScalingGroupName: 'ours', notificationTargetArn: `${ARN}lm` });
    aws.addHook({ autoScalingGroupName: 'theirs', notificationTargetArn: `${ARN}other` });
    aws.groups.set('bare', new Map());
    const facts = await gatherFacts(settings, { aws, simulator: new FakeSimulator(() => ({ kind: 'simulated', denied: [] })), reviewer: reviewer(() => true) }, new AbortController().signal);
    expect(facts.hooks).toMatchObject({ kind: 'listed', scanned: true, missingGroups: [], groups: [{ autoScalingGroupName: 'ours' }] });
    expect(facts.deadLetterQueue).toBeUndefined();
  });

  it('simulates each action against the resources a least-privilege policy names: the queue, the enrolled groups, "*"', async () => {
    const aws = new FakeAwsAdmin();
    aws.addQueue('lm');
    aws.addHook({ autoScalingGroupName: 'ours', notificationTargetArn: `${ARN}lm` });
    const simulator = new FakeSimulator((actions) => ({ kind: 'simulated', denied: actions.filter((a) => a === 'autoscaling:CompleteLifecycleAction') }));
    const facts = await gatherFacts(settings, { aws, simulator, reviewer: reviewer(() => true) }, new AbortController().signal);
    const asked = Object.fromEntries(simulator.asked.map((a) => [a.resources.join(' ') || '*', a.actions]));
    expect(simulator.asked.every((a) => a.principal === 'arn:aws:iam::123456789012:role/admin')).toBe(true); // the caller, by default
    expect(asked[`${ARN}lm`]).toEqual(['sqs:GetQueueUrl', 'sqs:GetQueueAttributes', 'sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:ChangeMessageVisibility']);
    expect(asked['arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:00000000-0000-0000-0000-000000000000:autoScalingGroupName/ours'])
      .toEqual(['autoscaling:RecordLifecycleActionHeartbeat', 'autoscaling:CompleteLifecycleAction']);
    expect(asked['*']).toContain('autoscaling:DescribeAutoScalingInstances');
    expect(simulator.asked.flatMap((a) => a.actions).some((a) => a.startsWith('elasticloadbalancing:'))).toBe(false); // --with-deregister=false
    expect(facts.iam).toMatchObject({ kind: 'simulated', denied: ['autoscaling:CompleteLifecycleAction'] });
  });

  it('turns an unavailable simulation into a skip and an unreachable apiserver into one fact, not an exception', async () => {
    const aws = new FakeAwsAdmin();
    const facts = await gatherFacts(settings, {
      aws,
      simulator: new FakeSimulator(() => ({ kind: 'unavailable', reason: 'not implemented here' })),
      reviewer: reviewer(() => new TransientError('connect ECONNREFUSED 127.0.0.1:6443', false)),
    }, new AbortController().signal);
    expect(facts.queue).toEqual({ kind: 'missing' });
    expect(facts.iam).toEqual({ kind: 'skipped', reason: 'not implemented here' });
    expect(facts.rbac).toEqual({ kind: 'failed', identity: 'kubeconfig context \'t\'', detail: 'connect ECONNREFUSED 127.0.0.1:6443' });
  });
});
