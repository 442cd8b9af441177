import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { SERVE_AWS_PERMISSIONS, servePermissions, simulationResources } from './permissions.js';

const policyFile = fileURLToPath(new URL('../../deploy/iam/serve-policy.json', import.meta.url));

describe('SERVE_AWS_PERMISSIONS', () => {
  it('is exactly the set of actions deploy/iam/serve-policy.json grants (what doctor simulates is what we ship)', () => {
    const statements = (JSON.parse(readFileSync(policyFile, 'utf8')) as { Statement: { Action: string | string[] }[] }).Statement;
    const granted = new Set(statements.flatMap((s) => (Array.isArray(s.Action) ? s.Action : [s.Action])));
    expect([...granted].sort()).toEqual(SERVE_AWS_PERMISSIONS.map((p) => p.action).sort());
  });

  it('leaves out load-balancer actions without --with-deregister and per target type', () => {
    const actions = (withDeregister: boolean, types: string[]) => servePermissions(withDeregister, types).map((p) => p.action);
    expect(actions(false, ['target-group', 'classic-elb']).some((a) => a.startsWith('elasticloadbalancing:'))).toBe(false);
    expect(actions(true, ['target-group'])).toContain('elasticloadbalancing:DeregisterTargets');
    expect(actions(true, ['target-group'])).not.toContain('elasticloadbalancing:DeregisterInstancesFromLoadBalancer');
  });

  it('builds resource ARNs a least-privilege policy\'s patterns match', () => {
    const c = { partition: 'aws', region: 'eu-west-1', account: '123456789012', queueArn: undefined, queueName: 'lm', groupNames: ['a'] };
    expect(simulationResources('queue', c)).toEqual(['arn:aws:sqs:eu-west-1:123456789012:lm']);
    expect(simulationResources('group', c)).toEqual(['arn:aws:autoscaling:eu-west-1:123456789012:autoScalingGroup:00000000-0000-0000-0000-000000000000:autoScalingGroupName/a']);
    expect(simulationResources('target-group', c)[0]).toMatch(/^arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup\/[^/]+\/[^/]+$/u);
    expect(simulationResources('*', c)).toEqual([]);
  });
});
