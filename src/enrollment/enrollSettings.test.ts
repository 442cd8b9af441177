import { describe, expect, it } from 'vitest';
import { ConfigError } from '../lifecycle/errors.js';
import { validateEnrollFlags } from './enrollSettings.js';

const valid = { queueName: 'lm', notificationRoleName: 'lm-role', targetScalingGroups: ['a,b', 'c', 'a'] };

function problems(flags: Parameters<typeof validateEnrollFlags>[0], env: Record<string, string> = { AWS_REGION: 'us-east-1' }): readonly string[] {
  try {
    validateEnrollFlags(flags, env);
  } catch (e) {
    if (e instanceof ConfigError) return e.problems;
    throw e;
  }
  return [];
}

describe('validateEnrollFlags', () => {
  it('keeps upstream defaults (heartbeat 300, hook lifecycle-manager) and picks CONTINUE; lists merge and dedupe', () => {
    expect(validateEnrollFlags(valid, { AWS_REGION: 'eu-west-1' })).toEqual({
      region: 'eu-west-1', queueName: 'lm', roleName: 'lm-role', groupNames: ['a', 'b', 'c'], heartbeatTimeoutSeconds: 300,
      defaultResult: 'CONTINUE', hookName: 'lifecycle-manager', tags: {}, overwrite: false, dryRun: false,
    });
  });

  it('reports every missing required flag at once, with upstream\'s wording', () => {
    expect(problems({}, {})).toEqual([
      '--region was not provided (nor AWS_REGION)',
      '--queue-name was not provided',
      '--notification-role-name was not provided',
      '--target-scaling-groups was not provided',
    ]);
  });

  it('holds the heartbeat timeout to AWS\'s 30-7200 seconds', () => {
    expect(problems({ ...valid, heartbeatTimeout: '29' })).toEqual(['--heartbeat-timeout must be between 30 and 7200, got 29']);
    expect(problems({ ...valid, heartbeatTimeout: '7201' })).toEqual(['--heartbeat-timeout must be between 30 and 7200, got 7201']);
    expect(problems({ ...valid, heartbeatTimeout: '5m' })).toEqual(['--heartbeat-timeout must be a whole number, got "5m"']);
    expect(problems({ ...valid, heartbeatTimeout: '30' })).toEqual([]);
  });

  it('rejects FIFO queues, a bad default result, the reserved managed-by tag and malformed tags', () => {
    expect(problems({ ...valid, queueName: 'lm.fifo', defaultResult: 'maybe', tags: ['managed-by=me,team', 'owner=ops'] })).toEqual([
      '--queue-name: lifecycle hooks cannot notify a FIFO queue ("lm.fifo")',
      '--default-result must be CONTINUE or ABANDON, got "maybe"',
      '--tags: managed-by is set by lifecycle-manager (managed-by=lifecycle-manager)',
      '--tags entries must be key=value, got "team"',
    ]);
  });

  it('parses tags and boolean flags written upstream\'s way', () => {
    const s = validateEnrollFlags({ ...valid, tags: ['team=infra,env=prod'], overwrite: 'true', dryRun: true, defaultResult: 'abandon' }, { AWS_REGION: 'us-east-1' });
    expect(s).toMatchObject({ tags: { team: 'infra', env: 'prod' }, overwrite: true, dryRun: true, defaultResult: 'ABANDON' });
    expect(problems({ ...valid, overwrite: 'perhaps' })).toEqual(['--overwrite must be true or false, got "perhaps"']);
  });
});
