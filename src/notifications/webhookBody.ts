/**
 * What a webhook notice says: the variables a template sees, the one-line text of each event, and the body — the
 * Slack-compatible default (`{"text": "…"}`, which Slack, Mattermost, Rocket.Chat and Google Chat accept) or a
 * Liquid template (--webhook-template). Liquid is sandboxed: a template cannot run code or read files (no include,
 * render or layout: there is no file system behind it), and strict variables and filters make a typo an error.
 */
import { createRequire } from 'node:module';
import type { Liquid as LiquidEngine, Template } from 'liquidjs';
import type { ActionNotice, NoticeEvent } from '../lifecycle/ports.js';

/** What a template sees: every key is always there (null when unknown), so strict variables never trip at run time. */
export interface NoticeVariables {
  readonly event: NoticeEvent;
  /** The default body's text, to reuse in a template. */
  readonly text: string;
  readonly instanceId: string;
  readonly nodeName: string | null;
  readonly autoScalingGroupName: string;
  readonly lifecycleHookName: string;
  readonly requestId: string;
  readonly result: string | null;
  readonly cause: string | null;
  readonly degradedSteps: readonly string[];
  readonly elapsedSeconds: number;
  /** When the event happened (ISO 8601). */
  readonly time: string;
  /** --cluster-name, or null. */
  readonly clusterName: string | null;
  /** --dry-run: true, and `plan` says what the termination would have done (nothing was changed). */
  readonly dryRun: boolean;
  readonly plan: string | null;
}

/** Renders a notice's body. Throws when a template fails to render. */
export type BodyRenderer = (notice: ActionNotice) => string;

export function noticeText(n: ActionNotice): string {
  const what = `instance ${n.action.instanceId}${n.nodeName ? ` (node ${n.nodeName})` : ''} of ${n.action.autoScalingGroupName}`;
  const degraded = n.degradedSteps.length > 0 ? ` (steps that failed and were worked around: ${n.degradedSteps.join(', ')})` : '';
  if (n.dryRunPlan !== undefined) return `lifecycle-manager (dry run): ${what} is terminating (hook ${n.action.lifecycleHookName}); nothing was changed: ${n.dryRunPlan}`;
  switch (n.event) {
    case 'received': return `lifecycle-manager: ${what} is terminating (hook ${n.action.lifecycleHookName}); draining it`;
    case 'drained': return `lifecycle-manager: ${what} drained after ${n.elapsedSeconds}s`;
    case 'completed': return `lifecycle-manager: ${what} completed ${n.result ?? 'CONTINUE'} after ${n.elapsedSeconds}s${degraded}`;
    case 'failed': return `lifecycle-manager: ${what} failed after ${n.elapsedSeconds}s${n.result ? `, completed ${n.result}` : ''}: ${n.cause ?? 'unknown cause'}`;
  }
}

export function noticeVariables(n: ActionNotice, clusterName: string | undefined): NoticeVariables {
  return {
    event: n.event, text: noticeText(n), instanceId: n.action.instanceId, nodeName: n.nodeName ?? null,
    autoScalingGroupName: n.action.autoScalingGroupName, lifecycleHookName: n.action.lifecycleHookName, requestId: n.action.requestId,
    result: n.result ?? null, cause: n.cause ?? null, degradedSteps: n.degradedSteps, elapsedSeconds: n.elapsedSeconds,
    time: new Date(n.atMs).toISOString(), clusterName: clusterName ?? null, dryRun: n.dryRunPlan !== undefined, plan: n.dryRunPlan ?? null,
  };
}

export function defaultBody(clusterName: string | undefined): BodyRenderer {
  return (notice) => JSON.stringify({ text: noticeVariables(notice, clusterName).text });
}

/** A notice as realistic as can be, every field filled in: the startup check renders the template with it. */
export const SAMPLE_NOTICE: ActionNotice = {
  event: 'failed', nodeName: 'ip-10-0-1-23.ec2.internal', result: 'ABANDON', cause: 'drain: pods still on the node', degradedSteps: ['deregister'],
  elapsedSeconds: 42, atMs: Date.UTC(2026, 0, 1), dryRunPlan: undefined,
  action: { autoScalingGroupName: 'nodes-a', lifecycleHookName: 'lifecycle-manager', instanceId: 'i-0123456789abcdef0', lifecycleActionToken: 'sample', requestId: 'sample-request', messageTime: undefined, format: 'autoscaling' },
};

export type TemplateCheck = { readonly ok: true; readonly render: BodyRenderer } | { readonly ok: false; readonly problem: string };

/**
 * Parses a Liquid template and renders it once with SAMPLE_NOTICE for every event, so that a template that cannot
 * render fails at startup rather than at the first termination. `jsonBody`: the rendered body must be JSON (the
 * Content-Type is JSON), which catches a string interpolated without the `json` filter.
 */
export function compileTemplate(text: string, clusterName: string | undefined, jsonBody: boolean): TemplateCheck {
  // Loaded only for --webhook-template: most services never need a template engine (it costs ~13 MiB of memory).
  const { Liquid } = createRequire(import.meta.url)('liquidjs') as { Liquid: typeof LiquidEngine };
  const engine = new Liquid({ strictVariables: true, strictFilters: true, ownPropertyOnly: true, templates: {}, renderLimit: 1_000, memoryLimit: 1e7, parseLimit: 1e6 });
  let parsed: Template[];
  try {
    parsed = engine.parse(text);
  } catch (e) {
    return { ok: false, problem: `cannot parse it: ${firstLine(e)}` };
  }
  const render: BodyRenderer = (notice) => String(engine.renderSync(parsed, noticeVariables(notice, clusterName)));
  const samples = [...(['received', 'drained', 'completed', 'failed'] as const).map((event) => ({ ...SAMPLE_NOTICE, event })), { ...SAMPLE_NOTICE, event: 'received' as const, dryRunPlan: 'would cordon node ip-10-0-1-23.ec2.internal' }];
  for (const sample of samples) {
    const { event } = sample;
    let body: string;
    try {
      body = render(sample);
    } catch (e) {
      return { ok: false, problem: `fails to render: ${firstLine(e)}` };
    }
    if (jsonBody) {
      try {
        JSON.parse(body);
      } catch (e) {
        return { ok: false, problem: `renders a body that is not JSON for the ${event} event (${firstLine(e)}), while the Content-Type is JSON: put strings through the json filter ({{ text | json }}), or set another Content-Type in --webhook-headers-file` };
      }
    }
  }
  return { ok: true, render };
}

function firstLine(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).split('\n')[0]!.trim();
}
