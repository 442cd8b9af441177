import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../harness/cli.js';
import { eventually } from '../harness/infra.js';
import { REGION, motoAwsEnv } from '../harness/moto.js';
import { e2eFixture } from './fixture.js';

// The conventions platform teams expect of a CLI, on the built one: usage errors exit 2 with one line and a hint,
// value errors exit 1 one line each, startup failures are one line, JSON logs are JSON to the last line, and the
// cheap commands stay cheap.
const f = e2eFixture();
beforeAll(() => f.start());
afterAll(() => f.stop());
const MAIN = join(f.info.repoRoot, 'dist', 'src', 'cli', 'main.js');
const cli = (args: string[], env: Record<string, string> = {}) => runCli(f.info.repoRoot, args, env, 60_000);
/** The AWS environment of the harness, with the SDK's Node.js-version notice left on, as users get it. */
const awsEnvWithSdkNotice = (endpoint = f.info.motoEndpoint): Record<string, string> => ({ ...motoAwsEnv(endpoint), AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: '' });
const version = (JSON.parse(readFileSync(join(f.info.repoRoot, 'package.json'), 'utf8')) as { version: string }).version;

describe('usage errors', () => {
  it.each([
    [['serve', '--drain-timout', '5'], "unknown option '--drain-timout' (did you mean --drain-timeout?)", 'lifecycle-manager serve'],
    [['serv'], "unknown command 'serv' (did you mean serve?)", 'lifecycle-manager'],
    [['enroll', '--queue-name'], "option '--queue-name <string>' argument missing", 'lifecycle-manager enroll'],
  ])('%j: one line, a hint to --help, exit code 2', async (args, message, command) => {
    const run = await cli(args);
    expect(run.errorLines).toEqual([`lifecycle-manager: ${message}`, `Run '${command} --help' for usage.`]);
    expect(run.stdout).toBe('');
    expect(run.code).toBe(2);
  });

  it('value errors: one line each, exit code 1', async () => {
    const run = await cli(['serve', '--drain-timeout', 'x', '--polling-interval', '99', '--queue-name', 'q', '--region', REGION]);
    expect(run.errorLines).toEqual(['lifecycle-manager: --drain-timeout must be a whole number, got "x"', 'lifecycle-manager: --polling-interval must be between 0 and 20, got 99']);
    expect(run.code).toBe(1);
  });
});

describe('--version and the cheap commands', () => {
  it('prints the version with --version', async () => {
    const run = await cli(['--version']);
    expect([run.code, run.stdout]).toEqual([0, `${version}\n`]);
  });

  /** The module URLs a run of the CLI loaded (recorded by a module hook). */
  function modulesLoadedBy(args: string[]): Promise<string[]> {
    const log = join(mkdtempSync(join(tmpdir(), 'lm-modules-')), 'modules.txt');
    return new Promise((resolve, reject) => {
      execFile(process.execPath, ['--import', join(f.info.repoRoot, 'test', 'harness', 'recordModules.mjs'), MAIN, ...args],
        { env: { PATH: process.env['PATH'] ?? '', LM_MODULE_LOG: log, AWS_REGION: REGION }, timeout: 30_000 }, (error) => {
          if (error && typeof error.code !== 'number') reject(error);
          else resolve(readFileSync(log, 'utf8').split('\n').filter(Boolean));
        });
    });
  }
  const HEAVY = /\/node_modules\/(@aws-sdk|@smithy|@kubernetes|prom-client|zod)\//u;

  it.each([[['version']], [['--version']], [['--help']], [['serve', '--help']], [['doctor', '--help']], [['enroll', '--help']]])('%j loads neither the AWS SDK nor the Kubernetes client', async (args) => {
    const loaded = await modulesLoadedBy(args);
    expect(loaded.some((url) => url.endsWith('/dist/src/cli/main.js'))).toBe(true);
    expect(loaded.filter((url) => HEAVY.test(url))).toEqual([]);
  });

  it('(the hook sees them when a command does load them)', async () => {
    const loaded = await modulesLoadedBy(['serve', '--queue-name', 'q', '--drain-timeout', 'x']);
    expect(loaded.filter((url) => /\/node_modules\/@aws-sdk\/client-sqs\//u.test(url)).length).toBeGreaterThan(0);
  });
});

describe('startup failures', () => {
  const closedEndpoint = 'http://127.0.0.1:1';

  it('an unreachable queue is one line naming the queue and the cause, exit code 1, no stack trace', async () => {
    const run = await cli(['serve', '--local-mode', f.info.serviceKubeconfigPath, '--queue-name', 'lm-unreachable', '--metrics-address', '127.0.0.1:0', '--api-timeout', '3'], motoAwsEnv(closedEndpoint));
    expect(run.code).toBe(1);
    const own = run.errorLines.filter((l) => l.startsWith('lifecycle-manager: '));
    expect(own).toEqual([expect.stringMatching(new RegExp(`^lifecycle-manager: cannot reach SQS queue lm-unreachable in ${REGION}: sqs:GetQueueUrl: .*ECONNREFUSED`, 'u'))]);
    expect(run.errorLines.filter((l) => /^\s+at /u.test(l))).toEqual([]);
  });

  it('with --log-format json every line is JSON, the SDK\'s Node.js notice and the fatal line included', async () => {
    const run = await cli(['serve', '--local-mode', f.info.serviceKubeconfigPath, '--queue-name', 'lm-unreachable', '--metrics-address', '127.0.0.1:0', '--api-timeout', '3', '--log-format', 'json'], awsEnvWithSdkNotice(closedEndpoint));
    expect(run.code).toBe(1);
    const records = run.errorLines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(records.at(-1)).toMatchObject({ level: 'fatal', msg: expect.stringMatching(/^cannot reach SQS queue lm-unreachable/u) as string, error: { name: 'StartupError' } });
    if (Number(process.versions.node.split('.')[0]) < 22) {
      expect(records.filter((r) => r['warning'] !== undefined)).toEqual([expect.objectContaining({ level: 'warning', msg: expect.stringMatching(/^NodeVersionSupportWarning: The AWS SDK for JavaScript \(v3\) versions published after .* will require node >=22/u) as string })]);
    }
  });
});

describe('logs', () => {
  it('in JSON: the configuration as one line, and each action\'s lines with instanceId, requestId, asg, node and phase as fields', async () => {
    const world = await f.world({ instances: 1, heartbeatTimeoutSeconds: 30, podsPerNode: 1 });
    const [victim] = world.instances;
    const lm = await f.serve(world, ['--log-format', 'json', '--polling-interval', '1', '--drain-interval', '1', '--with-deregister=false'], { env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: '' } });
    await world.terminate(victim!.instanceId);
    await eventually('the action to complete CONTINUE', async () => (await f.actions(victim!.instanceId))[0]?.result === 'CONTINUE', 60_000);
    await lm.waitForLog(new RegExp(`event [^ ]+ for instance ${victim!.instanceId} completed after`, 'u'), 10_000);
    await lm.stop();
    const records = lm.logs().map((l) => JSON.parse(l) as Record<string, unknown>);

    const starts = records.filter((r) => String(r['msg']).startsWith('starting lifecycle-manager service'));
    expect(starts).toHaveLength(1);
    expect(starts[0]).toMatchObject({ level: 'info', version, config: { 'queue-name': world.queueName, region: REGION, 'drain-timeout': 300, 'with-deregister': false, 'log-format': 'json' } });
    expect(records.find((r) => String(r['msg']).startsWith('starting metrics server'))).toMatchObject({ msg: 'starting metrics server on 127.0.0.1:0 (/metrics, /healthz, /readyz)', address: '127.0.0.1:0' });

    const action = records.filter((r) => r['instanceId'] === victim!.instanceId);
    expect(action.length).toBeGreaterThan(3);
    for (const r of action) expect(r).toMatchObject({ requestId: expect.any(String) as string, asg: world.autoScalingGroupName });
    const onNode = action.filter((r) => r['node'] !== undefined);
    expect(onNode.map((r) => r['node'])).toEqual(onNode.map(() => victim!.nodeName));
    expect(onNode.some((r) => r['phase'] === 'draining')).toBe(true);
  });
});
