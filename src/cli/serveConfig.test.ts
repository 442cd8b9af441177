import { describe, expect, it } from 'vitest';
import { VALID_SERVE_FLAGS, serveConfigProblems } from '../../test/unit/fakes/serveFlags.js';
import { ConfigError } from '../lifecycle/errors.js';
import { MAX_GLOBAL_TIMEOUT_SECONDS } from '../lifecycle/timeBudget.js';
import { DISCOVERY_MODES } from '../loadbalancing/discovery.js';
import { LOG_LEVELS } from '../observability/logger.js';
import { DEREGISTER_ORDERS, TAINT_EFFECTS, TARGET_TYPES, configFields, validateServeConfig } from './serveConfig.js';
import { MAX_SECONDS, SERVE_FLAGS, attributeName } from './serveFlags.js';

const valid = VALID_SERVE_FLAGS;
const problems = serveConfigProblems;

describe('validateServeConfig', () => {
  it('keeps upstream\'s defaults', () => {
    const c = validateServeConfig(valid, {}, new Set());
    expect(c).toMatchObject({
      maxDrainConcurrency: 32, maxTimeToProcessSeconds: 3600, maxTerminationGracePeriodSeconds: 900, drainTimeoutSeconds: 300,
      drainTimeoutUnknownSeconds: 30, drainIntervalSeconds: 30, drainRetries: 3, pollingIntervalSeconds: 10, withDeregister: true,
      deregisterTargetTypes: ['classic-elb', 'target-group'], refreshExpiredCredentials: false, logLevel: 'info', metricsAddress: ':8080',
    });
  });

  it('falls back to AWS_REGION and says what is missing otherwise', () => {
    expect(validateServeConfig({ ...valid, region: '' }, { AWS_REGION: 'eu-west-1' }, new Set()).region).toBe('eu-west-1');
    expect(problems({ region: '' })).toEqual(['must provide valid AWS region name (--region or AWS_REGION)']);
  });

  it('reports every problem at once, each naming its flag', () => {
    expect(problems({ pollingInterval: '21', drainRetries: '0', logLevel: 'verbose', deregisterTargetTypes: 'alb,target-group', drainTimeout: '-5', queueName: '' })).toEqual([
      'must provide valid SQS queue name (--queue-name)',
      '--log-level must be one of debug, info, warn, warning, error, got "verbose"',
      '--drain-timeout must be between 0 and 172800, got -5',
      '--drain-retries must be between 1 and 1000, got 0',
      '--polling-interval must be between 0 and 20, got 21',
      '--deregister-target-types accepts classic-elb, target-group; unknown: alb',
    ]);
  });

  it('accepts warn, warning and error as log levels', () => {
    for (const level of ['warn', 'warning', 'error', 'debug']) expect(problems({ logLevel: level })).toEqual([]);
  });

  it('rejects non-numbers instead of reading them as 0', () => {
    expect(problems({ drainTimeout: '5m' })).toEqual(['--drain-timeout must be a whole number, got "5m"']);
  });

  it('applies upstream\'s ceiling rule to the longest termination: the Node\'s late join, the load-balancer wait, every drain attempt and interval, the escalation', () => {
    expect(problems({ maxTimeToProcess: '2774' })).toEqual([
      '--max-time-to-process (2774s) must be >= the longest termination, 2775s: 120s for a late Node (--node-join-timeout) + 600s load-balancer wait (--deregistration-timeout) + 3×300s drain attempts (--drain-retries × --drain-timeout) + 2×30s between attempts (--drain-interval) + 900s+30s escalation (--max-termination-grace-period) + 120s for volumes to detach (--volume-detach-timeout) + 45s to delete the Node and complete; raise it or lower one of those',
    ]);
    expect(problems({ maxTimeToProcess: '2775' })).toEqual([]);
    // Without load balancers there is no load-balancer wait to fit.
    expect(problems({ maxTimeToProcess: '2175', withDeregister: 'false' })).toEqual([]);
  });

  it('bounds every time flag by the 48 h a lifecycle action can last, so no wait overflows a timer', () => {
    expect(problems({ drainTimeout: '2592000', maxTimeToProcess: '172800' })).toEqual(['--drain-timeout must be between 0 and 172800, got 2592000']);
    expect(problems({ nodeJoinTimeout: '999999999' })).toEqual(['--node-join-timeout must be between 0 and 172800, got 999999999']);
    expect(problems({ apiTimeout: '0' })).toEqual(['--api-timeout must be between 1 and 300, got 0']);
  });

  it('remembers --kubectl-path only when it was set, so the service can warn that it is unused', () => {
    expect(validateServeConfig(valid, {}, new Set()).kubectlPathSet).toBeUndefined();
    expect(validateServeConfig({ ...valid, kubectlPath: '/bin/kubectl' }, {}, new Set(['kubectl-path'])).kubectlPathSet).toBe('/bin/kubectl');
  });

  it('parses booleans the way upstream users write them', () => {
    expect(validateServeConfig({ ...valid, withDeregister: 'false' }, {}, new Set()).withDeregister).toBe(false);
    expect(problems({ withDeregister: 'maybe' })).toEqual(['--with-deregister must be true or false, got "maybe"']);
  });

  it('composes the operating modes and rejects the combinations that contradict each other, one line each', () => {
    expect(validateServeConfig({ ...valid, dryRun: 'true', cordonOnly: 'true', taintNode: 'true' }, {}, new Set())).toMatchObject({ dryRun: true, cordonOnly: true, taintEffect: 'NoSchedule' });
    expect(validateServeConfig({ ...valid, taintNode: 'false' }, {}, new Set()).taintEffect).toBeUndefined();
    expect(problems({ taintNode: 'true', taintEffect: 'NoEvict' })).toEqual(['--taint-effect must be one of NoSchedule, PreferNoSchedule, NoExecute, got "NoEvict"']);
    const set = (raw: Record<string, string>, flags: string[]): string[] => {
      try { validateServeConfig({ ...valid, ...raw }, {}, new Set(flags)); return []; } catch (e) { return e instanceof ConfigError ? [...e.problems] : [String(e)]; }
    };
    expect(set({ taintEffect: 'PreferNoSchedule' }, ['taint-effect'])).toEqual(['--taint-effect needs --taint-node']);
    expect(set({ taintNode: 'true', cordonOnly: 'true', taintEffect: 'NoExecute' }, ['taint-node', 'cordon-only', 'taint-effect'])).toEqual([
      '--taint-effect NoExecute evicts the pods (without their PodDisruptionBudgets), which --cordon-only promises not to do: use NoSchedule or PreferNoSchedule',
    ]);
  });
});

describe('configFields', () => {
  it('names every serve flag, so the configuration line shows all of them', () => {
    const config = validateServeConfig({ queueName: 'q', region: 'us-west-2' }, {}, new Set(['kubectl-path']));
    expect(Object.keys(configFields(config)).sort()).toEqual(SERVE_FLAGS.map((f) => f.name).sort());
  });
});

describe('SERVE_FLAGS bounds and choices (serve\'s validation and the chart\'s values.schema.json share them)', () => {
  it('bound every int flag and no other', () => {
    expect(SERVE_FLAGS.filter((f) => (f.kind === 'int') !== (f.min !== undefined && f.max !== undefined)).map((f) => f.name)).toEqual([]);
    expect(MAX_SECONDS).toBe(MAX_GLOBAL_TIMEOUT_SECONDS);
  });

  it('list the values serve accepts', () => {
    const choices = (name: string) => SERVE_FLAGS.find((f) => f.name === name)?.choices;
    expect(choices('log-level')).toEqual([...LOG_LEVELS]);
    expect(choices('deregister-target-types')).toEqual([...TARGET_TYPES]);
    expect(choices('deregister-order')).toEqual([...DEREGISTER_ORDERS]);
    expect(choices('lb-discovery')).toEqual([...DISCOVERY_MODES]);
    expect(choices('taint-effect')).toEqual([...TAINT_EFFECTS]);
    expect(problems({ ...valid, logFormat: 'yaml' })).toEqual(['--log-format must be text or json, got "yaml"']);
    expect(choices('log-format')).toEqual(['text', 'json']);
  });

  it('reject a value outside a flag\'s bounds, naming them', () => {
    expect(problems({ ...valid, pollingInterval: '21', leaseDuration: '4' })).toEqual(['--polling-interval must be between 0 and 20, got 21', '--lease-duration must be between 5 and 300, got 4']);
  });
});
