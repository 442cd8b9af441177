import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { WebhookServer } from '../../test/harness/webhookServer.js';
import { counter } from '../../test/unit/fakes/workflow.js';
import type { ActionNotice, NoticeEvent } from '../lifecycle/ports.js';
import { createLogger } from '../observability/logger.js';
import { Metrics } from '../observability/metrics.js';
import { createHttpTransport, describeRoute, proxySettingsFrom } from './httpTransport.js';
import { SAMPLE_NOTICE, defaultBody } from './webhookBody.js';
import { WebhookNotifier, type WebhookSettings, retryAfterMs } from './webhookNotifier.js';

// The notifier with its real HTTP client against a real server on 127.0.0.1 that fails, rate-limits, stalls and
// answers slowly on purpose. Bounds are scaled down (1 s attempts, a few seconds of retries).

let server: WebhookServer;
let lines: string[];
let metrics: Metrics;
beforeEach(async () => {
  server = await WebhookServer.start();
  lines = [];
  metrics = new Metrics({ defaultMetrics: false });
});
afterEach(async () => server.close());

function notifier(overrides: Partial<WebhookSettings> = {}, maxPending?: number): WebhookNotifier {
  const settings: WebhookSettings = {
    url: new URL(server.url('/hook/secret-token')), headers: { Authorization: 'Bearer very-secret' }, render: defaultBody(undefined),
    events: new Set<NoticeEvent>(['received', 'drained', 'completed', 'failed']), attemptTimeoutSeconds: 1, deliveryTimeoutSeconds: 4,
    ...overrides,
  };
  const log = createLogger({ level: 'debug', format: 'text', write: (l) => lines.push(l) });
  return new WebhookNotifier(settings, createHttpTransport(proxySettingsFrom({})), metrics, log, { userAgent: 'lifecycle-manager/test', backoff: { minMs: 100, maxMs: 400 }, ...(maxPending ? { maxPending } : {}) });
}

const notice = (event: NoticeEvent = 'completed'): ActionNotice => ({ ...SAMPLE_NOTICE, event, result: event === 'completed' ? 'CONTINUE' : SAMPLE_NOTICE.result, atMs: Date.now() });
const flushed = (n: WebhookNotifier, ms = 10_000) => n.flush(AbortSignal.timeout(ms));
const outcome = (event: string, o: string) => counter(metrics.webhookDeliveries, { event, outcome: o });

describe('webhook deliveries', () => {
  it('POSTs the Slack-compatible body as JSON with the headers file\'s headers, and counts it delivered', async () => {
    const n = notifier();
    n.send(notice('completed'));
    await flushed(n);
    expect(server.received).toHaveLength(1);
    const [hook] = server.received;
    expect(hook!.headers['content-type']).toBe('application/json');
    expect(hook!.headers['authorization']).toBe('Bearer very-secret');
    expect(hook!.headers['user-agent']).toBe('lifecycle-manager/test');
    expect(hook!.json).toEqual({ text: expect.stringMatching(/^lifecycle-manager: instance i-0123456789abcdef0 \(node ip-10-0-1-23\.ec2\.internal\) of nodes-a completed CONTINUE/u) });
    expect(await outcome('completed', 'delivered')).toBe(1);
  });

  it('retries a 500 and delivers on the next attempt', async () => {
    server.answer = (_h, i) => ({ status: i === 0 ? 500 : 200 });
    const n = notifier();
    n.send(notice());
    await flushed(n);
    expect(server.received.map((r) => r.answeredWith)).toEqual([500, 200]);
    // Both attempts carry the same key, so a receiver can drop a repeat.
    expect(server.received.map((r) => r.headers['idempotency-key'])).toEqual(['nodes-a/i-0123456789abcdef0/sample-request/completed', 'nodes-a/i-0123456789abcdef0/sample-request/completed']);
    expect(await outcome('completed', 'delivered')).toBe(1);
    expect(await counter(metrics.webhookFailedAttempts, { code: '500' })).toBe(1);
  });

  it('waits out a 429\'s Retry-After before trying again', async () => {
    const at: number[] = [];
    server.answer = (_h, i) => { at.push(Date.now()); return i === 0 ? { status: 429, headers: { 'retry-after': '1' } } : { status: 200 }; };
    const n = notifier();
    n.send(notice());
    await flushed(n);
    expect(server.received.map((r) => r.answeredWith)).toEqual([429, 200]);
    expect(at[1]! - at[0]!).toBeGreaterThanOrEqual(950);
    expect(await outcome('completed', 'delivered')).toBe(1);
  });

  it('gives up at once when Retry-After reaches past the delivery bound', async () => {
    server.answer = () => ({ status: 429, headers: { 'retry-after': '30' } });
    const n = notifier();
    n.send(notice());
    await flushed(n, 2_000);
    expect(server.received).toHaveLength(1);
    expect(await outcome('completed', 'failed')).toBe(1);
  });

  it('does not retry a 4xx other than 408 and 429', async () => {
    server.answer = () => ({ status: 404 });
    const n = notifier();
    n.send(notice('failed'));
    await flushed(n);
    expect(server.received).toHaveLength(1);
    expect(await outcome('failed', 'failed')).toBe(1);
    expect(lines.join('\n')).toMatch(/webhook failed for i-0123456789abcdef0 refused: HTTP 404.*not retried/u);
  });

  it('times out each attempt of a server that never answers, retries within the bound, then counts it failed', async () => {
    server.answer = () => 'stall';
    const n = notifier({ attemptTimeoutSeconds: 1, deliveryTimeoutSeconds: 3 });
    const started = Date.now();
    n.send(notice());
    await flushed(n);
    expect(Date.now() - started).toBeLessThan(6_000);
    expect(server.received.length).toBeGreaterThanOrEqual(2);
    expect(await counter(metrics.webhookFailedAttempts, { code: 'timeout' })).toBe(server.received.length);
    expect(await outcome('completed', 'failed')).toBe(1);
  });

  it('waits for a slow answer within --webhook-timeout', async () => {
    server.answer = () => ({ status: 200, delayMs: 600 });
    const n = notifier({ attemptTimeoutSeconds: 2 });
    n.send(notice());
    await flushed(n);
    expect(server.received).toHaveLength(1);
    expect(await outcome('completed', 'delivered')).toBe(1);
  });

  it('returns from send at once and drops what does not fit in the queue, whatever the server does', async () => {
    server.answer = () => 'stall';
    const n = notifier({ deliveryTimeoutSeconds: 30 }, 2);
    const started = Date.now();
    for (let i = 0; i < 5; i++) n.send(notice());
    expect(Date.now() - started).toBeLessThan(100);
    expect(await outcome('completed', 'dropped')).toBe(3);
    // Shutdown waits its own bound at most, then drops what is still being delivered.
    const stopping = Date.now();
    await flushed(n, 500);
    expect(Date.now() - stopping).toBeLessThan(3_000);
    expect(await outcome('completed', 'dropped')).toBe(5);
  });

  it('never logs the URL\'s path or a header value', async () => {
    server.answer = (_h, i) => (i === 0 ? { status: 503 } : { status: 400 });
    const n = notifier();
    n.send(notice());
    await flushed(n);
    const all = lines.join('\n');
    expect(all).not.toContain('secret-token');
    expect(all).not.toContain('very-secret');
    // A connection refused (the server gone) is retried, and its error names no path either.
    const port = server.port;
    await server.close();
    const refused = notifier({ url: new URL(`http://127.0.0.1:${port}/hook/secret-token`), deliveryTimeoutSeconds: 1 });
    refused.send(notice('drained'));
    await flushed(refused);
    expect(await counter(metrics.webhookFailedAttempts, { event: 'drained', code: 'network' })).toBeGreaterThanOrEqual(1);
    expect(await outcome('drained', 'failed')).toBe(1);
    expect(lines.join('\n')).toMatch(/webhook drained for i-\w+ not delivered within --webhook-delivery-timeout \(1s\): \d+ attempts; last: /u);
    expect(lines.join('\n')).not.toContain('secret-token');
    server = await WebhookServer.start();
    expect(describeRoute(new URL('https://hooks.example/services/T/B/x'), proxySettingsFrom({ HTTPS_PROXY: 'http://user:pw@127.0.0.1:3128' }))).toBe('through the proxy http://127.0.0.1:3128');
  });
});

describe('Retry-After', () => {
  it('reads seconds and HTTP dates', () => {
    expect(retryAfterMs('3')).toBe(3000);
    expect(retryAfterMs(new Date(Date.UTC(2026, 0, 1, 0, 0, 10)).toUTCString(), Date.UTC(2026, 0, 1))).toBe(10_000);
    expect(retryAfterMs('soon')).toBeUndefined();
  });
});
