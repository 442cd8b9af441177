import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../harness/infra.js';
import type { LifecycleManagerProcess } from '../harness/lifecycleManager.js';
import { ConnectProxy, WebhookServer } from '../harness/webhookServer.js';
import type { World } from '../harness/world.js';
import { e2eFixture } from './fixture.js';

// Webhook notices against a real HTTP server on 127.0.0.1 that fails, rate-limits, stalls and answers slowly on
// purpose, with the built CLI on the harness. Bounds are scaled down through the flags (1 s attempts).

const f = e2eFixture({ graceScale: 0.05 });
beforeAll(() => f.start());
afterAll(() => f.stop());

const FAST = ['--polling-interval', '1', '--drain-interval', '1', '--with-deregister=false', '--lease-duration', '5', '--visibility-timeout', '10'];
const servers: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  await Promise.allSettled(servers.splice(0).map((s) => s.close()));
});

async function webhookServer(): Promise<WebhookServer> {
  const s = await WebhookServer.start();
  servers.push(s);
  return s;
}

function file(name: string, text: string): string {
  const path = join(mkdtempSync(join(tmpdir(), 'lm-webhook-')), name);
  writeFileSync(path, text);
  return path;
}

/** The event a default (Slack) body is about, from its text. */
function eventOf(body: unknown): string {
  const text = (body as { text?: string } | undefined)?.text ?? '';
  if (/ is terminating /u.test(text)) return 'received';
  if (/ drained after /u.test(text)) return 'drained';
  if (/ completed CONTINUE /u.test(text)) return 'completed';
  if (/ failed after /u.test(text)) return 'failed';
  return `unknown: ${text}`;
}

async function completed(instanceId: string): Promise<void> {
  await eventually(`the lifecycle action of ${instanceId} to complete`, async () => (await f.actions(instanceId))[0]?.result ?? undefined, 60_000, 200);
  expect((await f.actions(instanceId))[0]).toMatchObject({ result: 'CONTINUE', resultSource: 'complete', completeCalls: 1 });
}

async function deliveries(lm: LifecycleManagerProcess, outcome: string, event?: string): Promise<number> {
  return lm.metric('lifecycle_manager_webhook_deliveries_total', { outcome, ...(event ? { event } : {}) });
}

function show(title: string, server: WebhookServer): void {
  process.stderr.write(`webhook server (${title}) saw ${server.received.length} requests:\n${server.transcript()}\n`);
}

async function terminateOne(world: World): Promise<string> {
  const instanceId = world.instances[0]!.instanceId;
  await world.terminate(instanceId);
  return instanceId;
}

describe('webhook notices', () => {
  it('posts received, drained and completed with the Slack-compatible body, retrying a 500 until the 200', async () => {
    const server = await webhookServer();
    server.answer = (_hook, index) => ({ status: index === 0 ? 500 : 200 });
    const world = await f.world({ instances: 1, heartbeatTimeoutSeconds: 30, podsPerNode: 1 });
    const lm = await f.serve(world, [...FAST, '--webhook-url', server.url('/services/T000/B000/secret-part')]);
    const instanceId = await terminateOne(world);
    await completed(instanceId);
    await eventually('three notices delivered', async () => (await deliveries(lm, 'delivered')) === 3, 20_000);
    show('500 then 200', server);

    const seen = server.received.map((r) => [eventOf(r.json), r.answeredWith]);
    expect(seen[0]).toEqual(['received', 500]);
    expect(seen.slice(1).map(([e, status]) => `${e} ${status}`).sort()).toEqual(['completed 200', 'drained 200', 'received 200']);
    for (const r of server.received) {
      expect(Object.keys(r.json as object)).toEqual(['text']);
      expect(r.headers['content-type']).toBe('application/json');
      expect((r.json as { text: string }).text).toContain(instanceId);
    }
    expect(await lm.metric('lifecycle_manager_webhook_failed_attempts_total', { event: 'received', code: '500' })).toBe(1);
    for (const event of ['received', 'drained', 'completed']) expect(await deliveries(lm, 'delivered', event)).toBe(1);
    // The URL's path (the secret part of a Slack URL) is never logged.
    expect(lm.logs().some((l) => l.includes('secret-part'))).toBe(false);
    expect(lm.countLogs(/webhook notices \(received, drained, completed, failed\) go to http:\/\/127\.0\.0\.1:\d+\/…/u)).toBe(1);
  });

  it('waits out a 429\'s Retry-After and a slow answer, without holding up the action', async () => {
    const server = await webhookServer();
    server.answer = (_hook, index) => (index === 0 ? { status: 429, headers: { 'retry-after': '2' } } : { status: 200, delayMs: 1_500 });
    const world = await f.world({ instances: 1, heartbeatTimeoutSeconds: 30 });
    const lm = await f.serve(world, [...FAST, '--webhook-url', server.url(), '--webhook-timeout', '5', '--webhook-delivery-timeout', '30']);
    const instanceId = await terminateOne(world);
    await completed(instanceId);
    await eventually('three notices delivered', async () => (await deliveries(lm, 'delivered')) === 3, 30_000);
    show('429 Retry-After: 2, then 200 after 1.5 s', server);
    const [first, retry] = server.received.filter((r) => eventOf(r.json) === 'received');
    expect(first!.answeredWith).toBe(429);
    expect(retry!.atMs - first!.answeredAtMs!).toBeGreaterThanOrEqual(1_900);
    expect(server.received).toHaveLength(4);
    expect(await lm.metric('lifecycle_manager_webhook_failed_attempts_total', { code: '429' })).toBe(1);
  });

  it('completes the action on time while the server never answers; each attempt times out, and the notices are counted failed', async () => {
    const server = await webhookServer();
    server.answer = () => 'stall';
    const world = await f.world({ instances: 1, heartbeatTimeoutSeconds: 30, podsPerNode: 1 });
    const lm = await f.serve(world, [...FAST, '--webhook-url', server.url(), '--webhook-timeout', '1', '--webhook-delivery-timeout', '15']);
    const instanceId = await terminateOne(world);
    await completed(instanceId);
    // Completed while every delivery was still being tried: none had ended, delivered or failed.
    expect(await deliveries(lm, 'failed') + await deliveries(lm, 'delivered')).toBe(0);
    expect(server.received.length).toBeGreaterThanOrEqual(1);
    await eventually('the three notices to be given up', async () => (await deliveries(lm, 'failed')) === 3, 30_000);
    show('stalls', server);
    expect(await lm.metric('lifecycle_manager_webhook_failed_attempts_total', { code: 'timeout' })).toBe(server.received.length);
    // The last attempt timed out on its own bound, or was cut by the delivery's (which of the two depends on timing).
    expect(lm.countLogs(/webhook received for i-\w+ not delivered within --webhook-delivery-timeout \(15s\): \d+ attempts; last: no answer (within --webhook-timeout \(1s\)|before the delivery bound)/u)).toBe(1);
    // Shutdown is not held up by the stalled server.
    expect(await lm.stop()).toBe(0);
  });

  it('renders a custom template with the headers file, reads the URL from a file, and posts only the events asked for', async () => {
    const server = await webhookServer();
    const world = await f.world({ instances: 1, heartbeatTimeoutSeconds: 30 });
    const template = file('body.liquid', '{"summary": {{ text | json }}, "event": {{ event | json }}, "instance": {{ instanceId | json }}, "group": {{ autoScalingGroupName | json }}, "result": {{ result | json }}, "seconds": {{ elapsedSeconds }}}\n');
    const lm = await f.serve(world, [...FAST,
      '--webhook-url-file', file('url', `${server.url('/custom')}\n`), '--webhook-headers-file', file('headers', '# from a Secret\nAuthorization: Bearer s3cr3t\nX-Team: platform\n'),
      '--webhook-template', template, '--webhook-events', 'completed,failed']);
    const instanceId = await terminateOne(world);
    await completed(instanceId);
    await eventually('the completed notice delivered', async () => (await deliveries(lm, 'delivered', 'completed')) === 1, 20_000);
    show('custom template', server);
    expect(server.received).toHaveLength(1);
    const [hook] = server.received;
    expect(hook!.path).toBe('/custom');
    expect(hook!.headers['authorization']).toBe('Bearer s3cr3t');
    expect(hook!.headers['x-team']).toBe('platform');
    expect(hook!.json).toEqual({ summary: expect.stringContaining(`instance ${instanceId}`), event: 'completed', instance: instanceId, group: world.autoScalingGroupName, result: 'CONTINUE', seconds: expect.any(Number) });
    expect(lm.logs().some((l) => l.includes('s3cr3t'))).toBe(false);
  });

  it('does not send a delivered notice again after a kill -9 mid-drain: the restarted replica reads it from the Lease', async () => {
    const server = await webhookServer();
    const world = await f.world({ instances: 1, heartbeatTimeoutSeconds: 12 });
    const instance = world.instances[0]!;
    await f.kubelet.createPod(world.namespace, { name: 'held', nodeName: instance.nodeName, ownerKind: 'ReplicaSet', terminationGracePeriodSeconds: 30 });
    f.kubelet.hold(world.namespace, 'held');
    const flags = [...FAST, '--webhook-url', server.url()];
    const first = await f.serve(world, flags, { env: { POD_NAME: 'replica-0' } });
    await world.terminate(instance.instanceId);
    await first.waitForLog(new RegExp(`${instance.instanceId}> evicting pod`, 'u'), 30_000);
    await eventually('the received notice delivered', async () => (await deliveries(first, 'delivered', 'received')) === 1, 20_000);
    await first.kill();
    f.kubelet.release(world.namespace, 'held');
    const second = await f.serve(world, flags, { env: { POD_NAME: 'replica-0' } });
    await completed(instance.instanceId);
    await eventually('drained and completed delivered', async () => (await deliveries(second, 'delivered')) === 2, 20_000);
    show('kill -9 mid-drain, then a restart', server);
    expect(server.received.map((r) => eventOf(r.json)).sort()).toEqual(['completed', 'drained', 'received']);
    expect(await deliveries(second, 'suppressed', 'received')).toBe(1);
    expect(second.countLogs(/webhook received: already sent for this action/u)).toBe(1);
  });

  it('--dry-run: one received notice that says "dry run" and carries the plan; nothing else', async () => {
    const server = await webhookServer();
    const world = await f.world({ instances: 1, heartbeatTimeoutSeconds: 30, podsPerNode: 2 });
    const lm = await f.serve(world, [...FAST, '--dry-run', '--webhook-url', server.url()]);
    const instanceId = await terminateOne(world);
    await eventually('the dry-run notice delivered', async () => (await deliveries(lm, 'delivered', 'received')) === 1, 30_000);
    show('dry run', server);
    expect(server.received).toHaveLength(1);
    expect((server.received[0]!.json as { text: string }).text).toMatch(new RegExp(`^lifecycle-manager \\(dry run\\): instance ${instanceId} \\(node [^)]+\\) of ${world.autoScalingGroupName} is terminating .*nothing was changed: would cordon node .*would drain: `, 'u'));
    expect((await f.actions(instanceId))[0]?.completeCalls ?? 0).toBe(0);
  });

  it('goes through HTTP_PROXY when it is set, and straight to the server for a NO_PROXY host', async () => {
    const server = await webhookServer();
    const proxy = await ConnectProxy.start();
    servers.push(proxy);
    const world = await f.world({ instances: 2, heartbeatTimeoutSeconds: 30 });
    const viaProxy = await f.serve(world, [...FAST, '--webhook-url', server.url('/proxied'), '--webhook-events', 'completed'], { env: { HTTP_PROXY: proxy.url } });
    await world.terminate(world.instances[0]!.instanceId);
    await eventually('the proxied notice delivered', async () => (await deliveries(viaProxy, 'delivered')) === 1, 30_000);
    expect(proxy.tunnels).toEqual([`127.0.0.1:${server.port}`]);
    expect(viaProxy.countLogs(new RegExp(`through the proxy http://127\\.0\\.0\\.1:${proxy.port}`, 'u'))).toBe(1);
    await viaProxy.stop();

    const direct = await f.serve(world, [...FAST, '--webhook-url', server.url('/direct'), '--webhook-events', 'completed'], { env: { HTTP_PROXY: proxy.url, NO_PROXY: '127.0.0.1' } });
    await world.terminate(world.instances[1]!.instanceId);
    await eventually('the direct notice delivered', async () => (await deliveries(direct, 'delivered')) === 1, 30_000);
    expect(proxy.tunnels).toHaveLength(1);
    expect(server.received.map((r) => r.path)).toEqual(['/proxied', '/direct']);
  });
});
