/**
 * Webhook deliveries in the background. `send` only queues a notice; a few POSTs run at once, each attempt bounded
 * by --webhook-timeout, retried with exponential backoff (and the server's Retry-After) on 5xx, 408, 429, a timeout
 * or a network failure until --webhook-delivery-timeout has passed since the notice was raised; any other answer is
 * final. Every outcome is a metric, every failure a log line (the URL, often a secret, is never logged).
 */
import type { ActionNotice, NoticeEvent, Notifier } from '../lifecycle/ports.js';
import { describeError } from '../lifecycle/errors.js';
import { Semaphore } from '../lifecycle/semaphore.js';
import { type Backoff, backoffDelayMs, linkedSignal, sleep, untilAborted } from '../lifecycle/sleep.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics, WebhookOutcome } from '../observability/metrics.js';
import type { WebhookTransport } from './httpTransport.js';
import type { BodyRenderer } from './webhookBody.js';

export interface WebhookSettings {
  readonly url: URL;
  /** From --webhook-headers-file; they win over the defaults (Content-Type: application/json, User-Agent). */
  readonly headers: Readonly<Record<string, string>>;
  readonly render: BodyRenderer;
  readonly events: ReadonlySet<NoticeEvent>;
  readonly attemptTimeoutSeconds: number;
  readonly deliveryTimeoutSeconds: number;
}

export interface NotifierOptions {
  readonly userAgent: string;
  readonly backoff?: Backoff;
  readonly maxConcurrent?: number;
  /** Notices waiting or being delivered; beyond it a new one is dropped (a burst of terminations must not pile up). */
  readonly maxPending?: number;
}

const DEFAULT_BACKOFF: Backoff = { minMs: 500, maxMs: 30_000 };

type Attempt =
  | { readonly kind: 'delivered'; readonly status: number }
  | { readonly kind: 'retry'; readonly code: string; readonly detail: string; readonly retryAfterMs: number | undefined }
  | { readonly kind: 'final'; readonly code: string; readonly detail: string }
  | { readonly kind: 'stopped' };

export class WebhookNotifier implements Notifier {
  private readonly pending = new Set<Promise<void>>();
  /** Aborted when the shutdown flush runs out of time: what is still being delivered is dropped. */
  private readonly stopper = new AbortController();
  private readonly slots: Semaphore;
  private readonly headers: Readonly<Record<string, string>>;
  private closed = false;

  constructor(
    private readonly settings: WebhookSettings,
    private readonly transport: WebhookTransport,
    private readonly metrics: Metrics,
    private readonly log: Logger,
    private readonly options: NotifierOptions,
  ) {
    this.slots = new Semaphore(options.maxConcurrent ?? 8);
    const own = Object.fromEntries(Object.entries(settings.headers).map(([k, v]) => [k.toLowerCase(), v]));
    this.headers = { 'content-type': 'application/json', 'user-agent': options.userAgent, ...own };
  }

  wants(event: NoticeEvent): boolean {
    return this.settings.events.has(event);
  }

  send(notice: ActionNotice): void {
    const what = describeNotice(notice);
    if (this.closed || this.pending.size >= (this.options.maxPending ?? 1000)) {
      this.count(notice.event, 'dropped');
      this.log.warn(`webhook ${what} dropped: ${this.closed ? 'shutting down' : `${this.pending.size} notices are waiting already`}`);
      return;
    }
    const delivery = this.deliver(notice, what).catch((e: unknown) => this.log.error(`webhook ${what}: unexpected error: ${describeError(e)}`));
    this.pending.add(delivery);
    void delivery.finally(() => this.pending.delete(delivery));
  }

  /** Shutdown: takes no new notice, waits for the deliveries in flight until `signal` aborts, then drops them. */
  async flush(signal: AbortSignal): Promise<void> {
    this.closed = true;
    if (this.pending.size > 0) {
      this.log.info(`waiting for ${this.pending.size} webhook deliveries before exiting`);
      await untilAborted(Promise.allSettled([...this.pending]), signal).catch(() => undefined);
    }
    this.stopper.abort(Object.assign(new Error('shutting down'), { name: 'AbortError' }));
    await Promise.allSettled([...this.pending]);
    await this.transport.close().catch(() => undefined);
  }

  private async deliver(notice: ActionNotice, what: string): Promise<void> {
    const { event } = notice;
    let body: string;
    try {
      body = this.settings.render(notice);
    } catch (e) {
      this.count(event, 'failed');
      this.log.error(`webhook ${what} not sent: the template failed to render (${describeError(e)})`);
      return;
    }
    const boundMs = this.settings.deliveryTimeoutSeconds * 1000;
    const { signal, dispose } = linkedSignal([this.stopper.signal], Math.max(0, notice.atMs + boundMs - Date.now()));
    try {
      for (let attempt = 1; ; attempt++) {
        const result = await this.slots.with(signal, () => this.attempt(body, idempotencyKey(notice), signal)).catch((): Attempt => ({ kind: 'stopped' }));
        if (result.kind === 'delivered') {
          this.count(event, 'delivered');
          this.log.info(`webhook ${what} delivered (HTTP ${result.status}${attempt > 1 ? `, attempt ${attempt}` : ''})`);
          return;
        }
        if (result.kind === 'stopped') return this.gaveUp(notice, what, attempt - 1, 'no answer');
        this.metrics.webhookFailedAttempts.inc({ event, code: result.code });
        if (result.kind === 'final') {
          this.count(event, 'failed');
          this.log.error(`webhook ${what} refused: ${result.detail}; not retried`);
          return;
        }
        const delayMs = Math.max(backoffDelayMs(attempt, this.options.backoff ?? DEFAULT_BACKOFF), result.retryAfterMs ?? 0);
        if (signal.aborted || Date.now() + delayMs >= notice.atMs + boundMs) return this.gaveUp(notice, what, attempt, result.detail);
        this.log.warn(`webhook ${what}: attempt ${attempt} failed (${result.detail}); retrying in ${(delayMs / 1000).toFixed(1)}s`);
        try {
          await sleep(delayMs, signal);
        } catch {
          return this.gaveUp(notice, what, attempt, result.detail);
        }
      }
    } finally {
      dispose();
    }
  }

  private async attempt(body: string, key: string, delivery: AbortSignal): Promise<Attempt> {
    if (delivery.aborted) return { kind: 'stopped' };
    const { signal, dispose } = linkedSignal([delivery], this.settings.attemptTimeoutSeconds * 1000);
    try {
      const answer = await this.transport.post(this.settings.url, { 'idempotency-key': key, ...this.headers }, body, signal);
      const { status } = answer;
      if (status >= 200 && status < 300) return { kind: 'delivered', status };
      const detail = `HTTP ${status}${answer.excerpt ? `: ${answer.excerpt}` : ''}`;
      if (status === 408 || status === 429 || status >= 500) return { kind: 'retry', code: String(status), detail, retryAfterMs: retryAfterMs(answer.retryAfter) };
      return { kind: 'final', code: String(status), detail: status >= 300 && status < 400 ? `${detail} (redirects are not followed)` : detail };
    } catch (e) {
      if (signal.aborted) {
        return { kind: 'retry', code: 'timeout', detail: delivery.aborted ? 'no answer before the delivery bound' : `no answer within --webhook-timeout (${this.settings.attemptTimeoutSeconds}s)`, retryAfterMs: undefined };
      }
      return { kind: 'retry', code: 'network', detail: describeError(e), retryAfterMs: undefined };
    } finally {
      dispose();
    }
  }

  private gaveUp(notice: ActionNotice, what: string, attempts: number, last: string): void {
    if (this.stopper.signal.aborted) {
      this.count(notice.event, 'dropped');
      this.log.warn(`webhook ${what} not delivered: shutting down (${attempts} attempts; last: ${last})`);
      return;
    }
    this.count(notice.event, 'failed');
    this.log.error(`webhook ${what} not delivered within --webhook-delivery-timeout (${this.settings.deliveryTimeoutSeconds}s): ${attempts} attempts; last: ${last}`);
  }

  private count(event: NoticeEvent, outcome: WebhookOutcome): void {
    this.metrics.webhookDeliveries.inc({ event, outcome });
  }
}

/**
 * The same for every attempt of one notice, and for nothing else: a receiver that must not show a notice twice (a
 * retry after an answer lost on the way back) can drop a repeated key. The lifecycle action token is left out.
 */
export function idempotencyKey(n: ActionNotice): string {
  return `${n.action.autoScalingGroupName}/${n.action.instanceId}/${n.action.requestId}/${n.event}`;
}

function describeNotice(n: ActionNotice): string {
  return `${n.event} for ${n.action.instanceId}`;
}

/** Retry-After in seconds or as an HTTP date; undefined when absent or unreadable. */
export function retryAfterMs(value: string | undefined, nowMs = Date.now()): number | undefined {
  if (!value) return undefined;
  const s = value.trim();
  if (/^\d+$/u.test(s)) return Number(s) * 1000;
  const at = Date.parse(s);
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs);
}
