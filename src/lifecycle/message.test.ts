import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_BODY_BYTES, excerpt, parseLifecycleMessage } from './message.js';

const hook = {
  Origin: 'AutoScalingGroup', Destination: 'EC2', Service: 'AWS Auto Scaling', Time: '2026-11-29T10:00:00.123Z',
  AccountId: '123456789012', RequestId: '63f5b5c2-58b3-0574-b7d5-b3162d0268f0',
  LifecycleTransition: 'autoscaling:EC2_INSTANCE_TERMINATING', AutoScalingGroupName: 'my-asg',
  EC2InstanceId: 'i-0123456789abcdef0', LifecycleActionToken: 'cc34960c-1e41-4703-a665-bdb3e5b81ad3', LifecycleHookName: 'lifecycle-manager',
};

describe('parseLifecycleMessage', () => {
  it('reads the raw Auto Scaling notification', () => {
    const parsed = parseLifecycleMessage(JSON.stringify(hook));
    expect(parsed).toEqual({ kind: 'action', action: {
      autoScalingGroupName: 'my-asg', lifecycleHookName: 'lifecycle-manager', instanceId: 'i-0123456789abcdef0',
      lifecycleActionToken: 'cc34960c-1e41-4703-a665-bdb3e5b81ad3', requestId: '63f5b5c2-58b3-0574-b7d5-b3162d0268f0',
      messageTime: new Date('2026-11-29T10:00:00.123Z'), format: 'autoscaling',
    } });
  });

  it('reads the same notification inside an SNS envelope', () => {
    const parsed = parseLifecycleMessage(JSON.stringify({ Type: 'Notification', MessageId: 'x', TopicArn: 'arn:aws:sns:us-east-1:1:t', Message: JSON.stringify(hook) }));
    expect(parsed.kind === 'action' && parsed.action).toMatchObject({ instanceId: hook.EC2InstanceId, format: 'sns', requestId: hook.RequestId });
  });

  it('reads the EventBridge "EC2 Instance-terminate Lifecycle Action" event', () => {
    const event = {
      version: '0', id: 'evt-1', 'detail-type': 'EC2 Instance-terminate Lifecycle Action', source: 'aws.autoscaling',
      account: '123456789012', time: '2026-11-29T10:00:00Z', region: 'us-east-1', resources: ['arn:aws:autoscaling:…'],
      detail: { LifecycleActionToken: hook.LifecycleActionToken, AutoScalingGroupName: 'my-asg', LifecycleHookName: 'lifecycle-manager', EC2InstanceId: hook.EC2InstanceId, LifecycleTransition: hook.LifecycleTransition },
    };
    const parsed = parseLifecycleMessage(JSON.stringify(event));
    expect(parsed.kind === 'action' && parsed.action).toMatchObject({ format: 'eventbridge', requestId: 'evt-1', messageTime: new Date('2026-11-29T10:00:00Z') });
  });

  it('ignores the test notification AWS sends when a hook is created', () => {
    const parsed = parseLifecycleMessage(JSON.stringify({ AccountId: '1', RequestId: 'r', AutoScalingGroupName: 'g', Service: 'AWS Auto Scaling', Event: 'autoscaling:TEST_NOTIFICATION', Time: 't' }));
    expect(parsed).toEqual({ kind: 'ignored', reason: 'test_notification', autoScalingGroupName: 'g' });
  });

  it('reports launch transitions as unsupported, in every envelope', () => {
    expect(parseLifecycleMessage(JSON.stringify({ ...hook, LifecycleTransition: 'autoscaling:EC2_INSTANCE_LAUNCHING' }))).toMatchObject({ kind: 'unsupported', reason: 'launch_transition' });
    expect(parseLifecycleMessage(JSON.stringify({ 'detail-type': 'EC2 Instance-launch Lifecycle Action', source: 'aws.autoscaling', detail: {} }))).toMatchObject({ kind: 'unsupported', reason: 'launch_transition' });
    expect(parseLifecycleMessage(JSON.stringify({ 'detail-type': 'EC2 Spot Instance Interruption Warning', source: 'aws.ec2', detail: {} }))).toMatchObject({ kind: 'unsupported', reason: 'unsupported_event' });
  });

  it('reads launch actions, in every envelope, with launchHooks (serve --launch-hooks)', () => {
    const launch = { ...hook, LifecycleTransition: 'autoscaling:EC2_INSTANCE_LAUNCHING', Origin: 'EC2', Destination: 'AutoScalingGroup' };
    expect(parseLifecycleMessage(JSON.stringify(launch), { launchHooks: true })).toMatchObject({ kind: 'action', action: { instanceId: hook.EC2InstanceId, launch: true, format: 'autoscaling' } });
    const sns = { Type: 'Notification', Message: JSON.stringify(launch) };
    expect(parseLifecycleMessage(JSON.stringify(sns), { launchHooks: true })).toMatchObject({ kind: 'action', action: { launch: true, format: 'sns' } });
    const event = { id: 'e', 'detail-type': 'EC2 Instance-launch Lifecycle Action', source: 'aws.autoscaling', detail: launch };
    expect(parseLifecycleMessage(JSON.stringify(event), { launchHooks: true })).toMatchObject({ kind: 'action', action: { launch: true, format: 'eventbridge' } });
    // A termination stays a termination.
    const parsed = parseLifecycleMessage(JSON.stringify(hook), { launchHooks: true });
    expect(parsed.kind === 'action' && parsed.action.launch).toBeUndefined();
  });

  it('names the missing or malformed field', () => {
    const { EC2InstanceId: _, ...missing } = hook;
    expect(parseLifecycleMessage(JSON.stringify(missing))).toEqual({ kind: 'invalid', reason: 'missing_fields', detail: 'EC2InstanceId: missing' });
    expect(parseLifecycleMessage(JSON.stringify({ ...hook, EC2InstanceId: 'i-; rm -rf /' }))).toMatchObject({ kind: 'invalid', reason: 'bad_field' });
    expect(parseLifecycleMessage(JSON.stringify({ ...hook, EC2InstanceId: 'i-; rm -rf /' }))).toEqual({ kind: 'invalid', reason: 'bad_field', detail: 'EC2InstanceId: not an EC2 instance id' });
    expect(parseLifecycleMessage(JSON.stringify({ ...hook, EC2InstanceId: 42 }))).toEqual({ kind: 'invalid', reason: 'bad_field', detail: 'EC2InstanceId: expected a string, got number' });
    expect(parseLifecycleMessage(JSON.stringify({ ...hook, LifecycleActionToken: 'a'.repeat(256) }))).toEqual({ kind: 'invalid', reason: 'bad_field', detail: 'LifecycleActionToken: longer than 255 characters' });
    expect(parseLifecycleMessage(JSON.stringify({ ...hook, LifecycleHookName: '' }))).toEqual({ kind: 'invalid', reason: 'bad_field', detail: 'LifecycleHookName: empty' });
    expect(parseLifecycleMessage(JSON.stringify({ ...hook, AutoScalingGroupName: 'a\u0007b' }))).toEqual({ kind: 'invalid', reason: 'bad_field', detail: 'AutoScalingGroupName: contains control characters' });
    expect(parseLifecycleMessage('[1,2]')).toMatchObject({ kind: 'invalid', reason: 'not_json' });
    expect(parseLifecycleMessage('x'.repeat(MAX_BODY_BYTES + 1))).toMatchObject({ kind: 'invalid', reason: 'too_large' });
  });

  it('never throws and always answers one of the four kinds, whatever the body', () => {
    const kinds = new Set(['action', 'ignored', 'unsupported', 'invalid']);
    fc.assert(fc.property(fc.oneof(
      fc.string({ unit: 'binary', maxLength: 2000 }),
      fc.json({ maxDepth: 3 }),
      fc.record({ LifecycleTransition: fc.constantFrom('autoscaling:EC2_INSTANCE_TERMINATING', 'x'), EC2InstanceId: fc.string(), LifecycleHookName: fc.string(), AutoScalingGroupName: fc.string(), LifecycleActionToken: fc.string() }).map((r) => JSON.stringify(r)),
      fc.json().map((m) => JSON.stringify({ Type: 'Notification', Message: m })),
    ), (body) => {
      expect(kinds.has(parseLifecycleMessage(body).kind)).toBe(true);
    }), { numRuns: 2000 });
  });

  it('accepts an action only when every identity field is well formed', () => {
    fc.assert(fc.property(fc.record({ EC2InstanceId: fc.string(), LifecycleHookName: fc.string(), AutoScalingGroupName: fc.string({ unit: 'binary' }), LifecycleActionToken: fc.string() }), (fields) => {
      const parsed = parseLifecycleMessage(JSON.stringify({ ...hook, ...fields }));
      if (parsed.kind === 'action') {
        expect(parsed.action.instanceId).toMatch(/^i-[0-9a-f]{8,17}$/u);
        expect(parsed.action.autoScalingGroupName).not.toMatch(/[\u0000-\u001f]/u);
      } else {
        expect(parsed.kind).toBe('invalid');
      }
    }), { numRuns: 2000 });
  });
});

describe('excerpt', () => {
  it('is bounded, single-line and never shows the lifecycle action token', () => {
    fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 5000 }), (junk) => {
      const body = `{"LifecycleActionToken": "${hook.LifecycleActionToken}", "junk": ${JSON.stringify(junk)}}`;
      const e = excerpt(body);
      expect(e).not.toContain(hook.LifecycleActionToken);
      expect(e).not.toMatch(/[\n\r\u2028]/u);
      expect(e.length).toBeLessThanOrEqual(240);
    }));
  });
});
