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

/**
 * One field's rule: undefined when the value is acceptable, else what is wrong with it. Hand-written rather than a
 * schema library: five string fields do not need one, and the library cost the service ~11 MiB of memory.
 */
type FieldRule = (value: unknown) => string | undefined;

/** A string of `maxLength` characters at most (and not empty unless `maxLength` is 0) matching `pattern`. */
function text(maxLength: number, pattern?: RegExp, problem?: string): FieldRule {
  return (value) => {
    if (typeof value !== 'string') return `expected a string, got ${value === null ? 'null' : typeof value}`;
    if (maxLength > 0 && value.length === 0) return 'empty';
    if (maxLength > 0 && value.length > maxLength) return `longer than ${maxLength} characters`;
    return pattern === undefined || pattern.test(value) ? undefined : problem;
  };
}

const name = text(255, /^[^\u0000-\u001f\u007f]+$/u, 'contains control characters');

/** The fields every lifecycle action carries, in the order they are checked (the first problem is reported). */
const HOOK_FIELDS = {
  LifecycleTransition: text(0),
  AutoScalingGroupName: name,
  LifecycleHookName: text(255, /^[A-Za-z0-9\-_/.]+$/u, 'not a valid lifecycle hook name'),
  EC2InstanceId: text(0, /^i-[0-9a-f]{8,17}$/u, 'not an EC2 instance id'),
  LifecycleActionToken: text(255, /^[A-Za-z0-9\-]+$/u, 'not a lifecycle action token'),
} as const satisfies Record<string, FieldRule>;

type HookFields = { readonly [K in keyof typeof HOOK_FIELDS]: string };

/** The first field that is missing or malformed, or the fields. */
function checkHookFields(json: Record<string, unknown>): { readonly ok: true; readonly fields: HookFields } | { readonly ok: false; readonly field: string; readonly problem: string | undefined } {
  for (const [field, rule] of Object.entries(HOOK_FIELDS)) {
    if (json[field] === undefined) return { ok: false, field, problem: undefined };
    const problem = rule(json[field]);
    if (problem !== undefined) return { ok: false, field, problem };
  }
  return { ok: true, fields: json as unknown as HookFields };
}

interface EventBridgeEnvelope {
  readonly 'detail-type': string;
  readonly source: string;
  readonly detail: Record<string, unknown>;
  readonly id: string | undefined;
  readonly time: string | undefined;
}

function snsMessage(json: Record<string, unknown>): string | undefined {
  return json['Type'] === 'Notification' && typeof json['Message'] === 'string' ? json['Message'] : undefined;
}

function eventBridgeEnvelope(json: Record<string, unknown>): EventBridgeEnvelope | undefined {
  const { 'detail-type': detailType, source, detail, id, time } = json;
  if (typeof detailType !== 'string' || typeof source !== 'string') return undefined;
  if (detail === null || typeof detail !== 'object' || Array.isArray(detail)) return undefined;
  if ((id !== undefined && typeof id !== 'string') || (time !== undefined && typeof time !== 'string')) return undefined;
  return { 'detail-type': detailType, source, detail: detail as Record<string, unknown>, id, time };
}

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

  const message = snsMessage(outer);
  if (message !== undefined) {
    const inner = parseJson(message);
    if (inner === undefined) return invalid('not_json', 'SNS Message is not a JSON object');
    return fromAutoScaling(inner, 'sns', launchHooks);
  }
  const eventBridge = eventBridgeEnvelope(outer);
  if (eventBridge) return fromEventBridge(eventBridge, launchHooks);
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

function fromEventBridge(event: EventBridgeEnvelope, launchHooks: boolean): ParsedMessage {
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
  const checked = checkHookFields(json);
  if (!checked.ok) {
    return checked.problem === undefined ? invalid('missing_fields', `${checked.field}: missing`) : invalid('bad_field', `${checked.field}: ${checked.problem}`);
  }
  const f = checked.fields;
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
