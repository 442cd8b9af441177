import { describe, expect, it } from 'vitest';
import { VALID_SERVE_FLAGS, serveConfigProblems } from '../../test/unit/fakes/serveFlags.js';
import { validateServeConfig } from './serveConfig.js';
import { SERVE_FLAGS, attributeName } from './serveFlags.js';

const valid = VALID_SERVE_FLAGS;
const problems = serveConfigProblems;

describe('validateServeConfig: launch hooks', () => {
  it('is off by default, with a 600 s bound well inside the default --max-time-to-process', () => {
    expect(validateServeConfig(valid, {}, new Set())).toMatchObject({ launchHooks: false, launchTimeoutSeconds: 600, launchWaitDaemonSets: false });
    expect(validateServeConfig({ ...valid, launchHooks: 'true', launchWaitDaemonsets: 'true' }, {}, new Set())).toMatchObject({ launchHooks: true, launchWaitDaemonSets: true });
  });

  it('refuses combinations that cannot work, one line each', () => {
    expect(problems({ launchWaitDaemonsets: 'true' })).toEqual(['--launch-wait-daemonsets needs --launch-hooks (without it launch messages are not worked on)']);
    expect(problems({ launchHooks: 'true', verifyLifecycleState: 'false' })).toEqual([
      '--launch-hooks needs --verify-lifecycle-state: only DescribeAutoScalingInstances tells a launch into the group (Pending:Wait, waited for) from one into a warm pool (Warmed:Pending:Wait, whose Node never becomes Ready)',
    ]);
    expect(problems({ launchHooks: 'true', launchTimeout: '3590' })).toEqual([
      '--launch-timeout (3590s) plus 30s to complete must fit --max-time-to-process (3600s); lower it or raise --max-time-to-process',
    ]);
    expect(problems({ launchTimeout: '0' })).toEqual(['--launch-timeout must be between 1 and 172800, got 0']);
    // Without --launch-hooks the bound is not used, so it need not fit.
    expect(problems({ launchTimeout: '3590' })).toEqual([]);
  });
});
