import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../harness/infra.js';
import { e2eFixture } from './fixture.js';

const f = e2eFixture({ graceScale: 0.05 });
beforeAll(() => f.start());
afterAll(() => f.stop());

const FAST = ['--polling-interval', '1', '--drain-interval', '1', '--with-deregister=false'];

/** Runs the built CLI to completion (for commands that are expected to exit). */
function cli(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [join(f.info.repoRoot, 'dist', 'src', 'cli', 'main.js'), ...args], {
    env: { PATH: process.env['PATH'] ?? '', ...f.awsEnv, ...env }, encoding: 'utf8', timeout: 60_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('serve under load and at the edges', () => {
  it('heartbeats 20 simultaneous hooks from the start while never draining more than --max-drain-concurrency nodes at once', async () => {
    const world = await f.world({ instances: 20, heartbeatTimeoutSeconds: 30 });
    for (const i of world.instances) {
      // Each pod takes ~1.5 s to terminate (30 s grace × 0.05), so drains overlap and must queue.
      await f.kubelet.createPod(world.namespace, { name: `${i.instanceId}-app`, nodeName: i.nodeName, ownerKind: 'ReplicaSet', terminationGracePeriodSeconds: 30 });
    }
    const lm = await f.serve(world, [...FAST, '--max-drain-concurrency', '5', '--log-level', 'debug']);

    await Promise.all(world.instances.map((i) => world.terminate(i.instanceId)));

    await eventually('all 20 actions completed', async () => {
      const done = (await f.actions()).filter((a) => a.autoScalingGroupName === world.autoScalingGroupName && a.result === 'CONTINUE');
      return done.length === 20;
    }, 120_000, 500);

    // Replay the log: +1 on "acquired drain semaphore", -1 on "released".
    let draining = 0;
    let peak = 0;
    let firstRelease = -1;
    const lines = lm.logs();
    lines.forEach((line, index) => {
      if (/acquired drain semaphore/u.test(line)) peak = Math.max(peak, ++draining);
      if (/released drain semaphore/u.test(line)) {
        draining--;
        if (firstRelease < 0) firstRelease = index;
      }
    });
    expect(peak).toBe(5);
    // Every hook was heartbeating before the first drain had even finished.
    const firstBeats = world.instances.map((i) => lines.findIndex((l) => l.includes(`${i.instanceId}> sending heartbeat (1)`)));
    expect(firstBeats.every((idx) => idx >= 0 && idx < firstRelease)).toBe(true);
    const actions = (await f.actions()).filter((a) => a.autoScalingGroupName === world.autoScalingGroupName);
    expect(actions.every((a) => a.heartbeats >= 1 && a.completeCalls === 1)).toBe(true);
  });

  it('on SIGTERM stops receiving, hands in-flight messages back and exits 0; a restart finishes the action', async () => {
    const world = await f.world({ instances: 1, heartbeatTimeoutSeconds: 30 });
    const [victim] = world.instances;
    await f.kubelet.createPod(world.namespace, { name: 'stuck', nodeName: victim!.nodeName, ownerKind: 'ReplicaSet' });
    f.kubelet.hold(world.namespace, 'stuck');
    const first = await f.serve(world, [...FAST, '--drain-timeout', '60']);
    await world.terminate(victim!.instanceId);
    await first.waitForLog(/evicting pod .*\/stuck/u, 30_000);

    expect(await first.stop()).toBe(0);
    expect(first.countLogs(/its message is returned to the queue/u)).toBe(1);
    expect((await f.actions(victim!.instanceId))[0]?.result).toBeNull(); // not completed, not abandoned

    f.kubelet.release(world.namespace, 'stuck');
    const second = await f.serve(world, FAST);
    await eventually('CONTINUE after restart', async () => (await f.actions(victim!.instanceId))[0]?.result === 'CONTINUE', 60_000);
    // The first replica handed its Lease over on SIGTERM, so the restart resumes the action at once.
    expect(second.countLogs(new RegExp(`${victim!.instanceId}> (found event|resuming event)`, 'u'))).toBeGreaterThanOrEqual(1);
  });

  it('answers /healthz and /readyz, warns once that --kubectl-path is unused, and logs JSON with the instance as a field', async () => {
    const world = await f.world({ instances: 1, heartbeatTimeoutSeconds: 30 });
    const [victim] = world.instances;
    const lm = await f.serve(world, [...FAST, '--log-format', 'json', '--kubectl-path', '/usr/local/bin/kubectl']);
    expect((await fetch(`http://127.0.0.1:${lm.metricsPort}/healthz`)).status).toBe(200);
    await eventually('ready', async () => (await fetch(`http://127.0.0.1:${lm.metricsPort}/readyz`)).status === 200, 10_000);
    expect(lm.countLogs(/--kubectl-path=\/usr\/local\/bin\/kubectl is ignored/u)).toBe(1);
    await world.terminate(victim!.instanceId);
    const line = await lm.waitForLog(/"msg":"received termination event"/u, 30_000);
    expect(JSON.parse(line)).toMatchObject({ level: 'info', instanceId: victim!.instanceId, asg: world.autoScalingGroupName });
    await eventually('CONTINUE', async () => (await f.actions(victim!.instanceId))[0]?.result === 'CONTINUE', 30_000);
    // Every line the service wrote is JSON (the SDK's own warnings are silenced in tests).
    expect(lm.logs().filter((l) => l.startsWith('{')).length).toBe(lm.logs().length);
  });

  it('exits 1 with one line naming queue and region when the queue does not exist', () => {
    const r = cli(['serve', '--queue-name', 'no-such-queue', '--region', 'us-east-1', '--local-mode', f.info.serviceKubeconfigPath, '--metrics-address', '127.0.0.1:0']);
    expect(r.code).toBe(1);
    const errors = r.stderr.split('\n').filter((l) => l.startsWith('lifecycle-manager:'));
    expect(errors).toEqual(['lifecycle-manager: SQS queue "no-such-queue" does not exist in region us-east-1']);
    expect(r.stderr).not.toMatch(/\n\s+at /u); // no stack trace
  });

  it('prints one line per bad flag and exits 1 without contacting AWS', () => {
    const r = cli(['serve', '--queue-name', 'q', '--region', 'us-east-1', '--polling-interval', '25', '--drain-retries', '0']);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toEqual([
      'lifecycle-manager: --drain-retries must be between 1 and 1000, got 0',
      'lifecycle-manager: --polling-interval must be between 0 and 20, got 25',
    ]);
  });

  it('takes flags from LIFECYCLE_MANAGER_* variables, and a flag beats its variable', () => {
    const r = cli(['serve', '--region', 'us-east-1', '--drain-retries', '0'], { LIFECYCLE_MANAGER_QUEUE_NAME: 'q', LIFECYCLE_MANAGER_DRAIN_RETRIES: '2', LIFECYCLE_MANAGER_POLLING_INTERVAL: '99' });
    expect(r.stderr.trim().split('\n')).toEqual([
      'lifecycle-manager: --drain-retries must be between 1 and 1000, got 0',
      'lifecycle-manager: --polling-interval must be between 0 and 20, got 99',
    ]);
  });

  it('prints its version', () => {
    const r = cli(['version']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Version: \d+\.\d+\.\d+\nGit Commit: .+\nBuild Date: .+\nNode Version: v\d+/u);
  });
});
