import { z } from 'zod';
import {
  LAUNCHING_TRANSITION,
  type LifecycleAction,
  type MessageFormat,
  TERMINATING_TRANSITION,
  TEST_NOTIFICATION_EVENT,
} from './action.js';

/**
 * Turns an SQS message body into a lifecycle action or a reasoned rejection. Pure: no I/O, never throws.
 * Accepted envelopes: the raw Auto Scaling notification, the same inside an SNS envelope, and the EventBridge
 * "EC2 Instance-terminate Lifecycle Action" event (and, with `launchHooks`, "EC2 Instance-launch Lifecycle Action").
 * A launch action is an action only with `launchHooks` (serve --launch-hooks); otherwise it is `unsupported`
 * (`launch_transition`), which the workflow deletes with a log line and a metric.
 */
export type ParsedMessage =
  | { readonly kind: 'action'; readonly action: LifecycleAction }
  | { readonly kind: 'ignored'; readonly reason: 'test_notification'; readonly autoScalingGroupName: string | undefined }
  | { readonly kind: 'unsupported'; readonly reason: UnsupportedReason; readonly detail: string }
  | { readonly kind: 'invalid'; readonly reason: InvalidReason; readonly detail: string };

export type UnsupportedReason = 'launch_transition' | 'unsupported_transition' | 'unsupported_event';
export type InvalidReason = 'too_large' | 'not_json' | 'missing_fields' | 'bad_field';

/** A real lifecycle notification is well under 4 KiB (NotificationMetadata is at most 1023 characters). */
export const MAX_BODY_BYTES = 16 * 1024;

const name = z.string().min(1).max(255).regex(/^[^\u0000-\u001f\u007f]+$/u, 'contains control characters');
const hookName = z.string().min(1).max(255).regex(/^[A-Za-z0-9\-_/.]+$/u, 'not a valid lifecycle hook name');
const instanceId = z.string().regex(/^i-[0-9a-f]{8,17}$/u, 'not an EC2 instance id');
const token = z.string().min(1).max(255).regex(/^[A-Za-z0-9\-]+$/u, 'not a lifecycle action token');

const hookFields = z.object({
  LifecycleTransition: z.string(),
  AutoScalingGroupName: name,
  LifecycleHookName: hookName,
  EC2InstanceId: instanceId,
  LifecycleActionToken: token,
});

const snsEnvelope = z.object({ Type: z.literal('Notification'), Message: z.string() });
const eventBridgeEnvelope = z.object({
  'detail-type': z.string(),
  source: z.string(),
  detail: z.record(z.string(), z.unknown()),
  id: z.string().optional(),
  time: z.string().optional(),
});

export interface ParseOptions {
  /** Launch lifecycle actions are actions (serve --launch-hooks), not unsupported messages. */
  readonly launchHooks?: boolean;
}

export function parseLifecycleMessage(body: string, options: ParseOptions = {}): ParsedMessage {
  const launchHooks = options.launchHooks ?? false;
  if (Buffer.byteLength(body, 'utf8') > MAX_BODY_BYTES) {
    return invalid('too_large', `body is ${Buffer.byteLength(body, 'utf8')} bytes, more than ${MAX_BODY_BYTES}`);
  }
  const outer = parseJson(body);
  if (outer === undefined) return invalid('not_json', 'body is not a JSON object');

  const sns = snsEnvelope.safeParse(outer);
  if (sns.success) {
    const inner = parseJson(sns.data.Message);
    if (inner === undefined) return invalid('not_json', 'SNS Message is not a JSON object');
    return fromAutoScaling(inner, 'sns', launchHooks);
  }
  const eventBridge = eventBridgeEnvelope.safeParse(outer);
  if (eventBridge.success) return fromEventBridge(eventBridge.data, launchHooks);
  return fromAutoScaling(outer, 'autoscaling', launchHooks);
}

function fromAutoScaling(json: Record<string, unknown>, format: MessageFormat, launchHooks: boolean): ParsedMessage {
  if (json['Event'] === TEST_NOTIFICATION_EVENT) {
    const group = json['AutoScalingGroupName'];
    return { kind: 'ignored', reason: 'test_notification', autoScalingGroupName: typeof group === 'string' ? group : undefined };
  }
  if (typeof json['Event'] === 'string' && json['LifecycleTransition'] === undefined) {
    return { kind: 'unsupported', reason: 'unsupported_event', detail: `Auto Scaling event ${truncate(json['Event'], 80)}` };
  }
  return toAction(json, format, typeof json['RequestId'] === 'string' ? json['RequestId'] : undefined, json['Time'], launchHooks);
}

function fromEventBridge(event: z.infer<typeof eventBridgeEnvelope>, launchHooks: boolean): ParsedMessage {
  if (event.source !== 'aws.autoscaling') {
    return { kind: 'unsupported', reason: 'unsupported_event', detail: `EventBridge source ${truncate(event.source, 80)}` };
  }
  const launch = event['detail-type'] === 'EC2 Instance-launch Lifecycle Action';
  if (launch && !launchHooks) {
    return { kind: 'unsupported', reason: 'launch_transition', detail: LAUNCHES_OFF };
  }
  if (!launch && event['detail-type'] !== 'EC2 Instance-terminate Lifecycle Action') {
    return { kind: 'unsupported', reason: 'unsupported_event', detail: `EventBridge ${truncate(event['detail-type'], 80)}` };
  }
  return toAction(event.detail, 'eventbridge', event.id, event.time, launchHooks);
}

const LAUNCHES_OFF = 'launch lifecycle actions are not handled without --launch-hooks';

function toAction(json: Record<string, unknown>, format: MessageFormat, requestId: string | undefined, time: unknown, launchHooks: boolean): ParsedMessage {
  const transition = json['LifecycleTransition'];
  const launch = transition === LAUNCHING_TRANSITION;
  if (launch && !launchHooks) {
    return { kind: 'unsupported', reason: 'launch_transition', detail: LAUNCHES_OFF };
  }
  if (typeof transition === 'string' && !launch && transition !== TERMINATING_TRANSITION) {
    return { kind: 'unsupported', reason: 'unsupported_transition', detail: `transition ${truncate(transition, 80)}` };
  }
  const parsed = hookFields.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue?.path.join('.') || 'body';
    const missing = issue?.code === 'invalid_type' && json[field] === undefined;
    return invalid(missing ? 'missing_fields' : 'bad_field', `${field}: ${missing ? 'missing' : issue?.message ?? 'invalid'}`);
  }
  const f = parsed.data;
  return {
    kind: 'action',
    action: {
      autoScalingGroupName: f.AutoScalingGroupName,
      lifecycleHookName: f.LifecycleHookName,
      instanceId: f.EC2InstanceId,
      lifecycleActionToken: f.LifecycleActionToken,
      requestId: requestId && requestId.length <= 128 ? requestId : f.LifecycleActionToken,
      messageTime: parseTime(time),
      format,
      ...(launch ? { launch: true } : {}),
    },
  };
}

function parseJson(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function parseTime(value: unknown): Date | undefined {
  if (typeof value !== 'string') return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : new Date(ms);
}

function invalid(reason: InvalidReason, detail: string): ParsedMessage {
  return { kind: 'invalid', reason, detail };
}

function truncate(value: unknown, max: number): string {
  const s = String(value);
  return s.length > max ? `${s.slice(0, max)}…` : s;
}

/**
 * A bounded, single-line excerpt of a message body for logs, with lifecycle action tokens redacted: enough to
 * recognise a poison message without logging whole bodies or secrets.
 */
export function excerpt(body: string, maxChars = 200): string {
  const redacted = body.replace(/("LifecycleActionToken"\s*:\s*)"[^"]*"/gu, '$1"<redacted>"');
  // Drop control characters so a hostile body cannot forge log lines.
  const flat = redacted.replace(/[\u0000-\u001f\u007f\u2028\u2029]+/gu, ' ');
  return flat.length > maxChars ? `${flat.slice(0, maxChars)}… (${body.length} chars)` : flat;
}
