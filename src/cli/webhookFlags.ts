/**
 * The webhook flags, validated with the others (serveConfig.ts): the URL (or the file holding it), the headers
 * file, the template, the events, the bounds. Files are read once, at startup; every problem is one line that
 * never shows the URL or a header value (they often carry a secret).
 */
import { readFileSync } from 'node:fs';
import { NOTICE_EVENTS, type NoticeEvent } from '../lifecycle/ports.js';
import { compileTemplate, defaultBody } from '../notifications/webhookBody.js';
import { parseHeaders } from '../notifications/webhookHeaders.js';
import type { WebhookSettings } from '../notifications/webhookNotifier.js';
import type { Problems } from './flagValues.js';

export interface ServeWebhook {
  readonly settings: WebhookSettings;
  /** For the startup log: where notices go (the URL's origin only) and with what body. */
  readonly summary: string;
  /** The files it was read from, for the configuration line ('' when not given). */
  readonly files: { readonly urlFile: string; readonly headersFile: string; readonly template: string };
}

interface FlagReader {
  str(flag: string): string;
  /** Bounds come from SERVE_FLAGS. */
  int(flag: string): number;
}

export function webhookFrom(flags: FlagReader, clusterName: string | undefined, problems: Problems): ServeWebhook | undefined {
  const events = flags.str('webhook-events').split(',').map((e) => e.trim()).filter(Boolean);
  const unknown = events.filter((e) => !(NOTICE_EVENTS as readonly string[]).includes(e));
  if (unknown.length > 0) problems.push(`--webhook-events accepts ${NOTICE_EVENTS.join(', ')}; unknown: ${unknown.join(', ')}`);
  const attemptTimeoutSeconds = flags.int('webhook-timeout');
  const deliveryTimeoutSeconds = flags.int('webhook-delivery-timeout');
  const urlFlag = flags.str('webhook-url');
  const urlFile = flags.str('webhook-url-file');
  const headersFile = flags.str('webhook-headers-file');
  const templateFile = flags.str('webhook-template');
  if (urlFlag && urlFile) problems.push('--webhook-url and --webhook-url-file are exclusive: give one of them');
  if (!urlFlag && !urlFile) {
    for (const [flag, value] of [['webhook-headers-file', headersFile], ['webhook-template', templateFile]] as const) {
      if (value) problems.push(`--${flag} needs --webhook-url or --webhook-url-file`);
    }
    return undefined;
  }
  if (events.length === 0) problems.push(`--webhook-events must name at least one of ${NOTICE_EVENTS.join(', ')}`);

  let url: URL | undefined;
  const rawUrl = urlFile ? readText('webhook-url-file', urlFile, problems)?.trim() : urlFlag;
  const source = urlFile ? `--webhook-url-file ${urlFile}` : '--webhook-url';
  if (rawUrl !== undefined) {
    try {
      url = new URL(rawUrl);
      if (url.protocol !== 'http:' && url.protocol !== 'https:') {
        problems.push(`${source} must be an http:// or https:// URL, got a ${url.protocol} URL`);
        url = undefined;
      }
    } catch {
      // Not shown: a webhook URL is often a secret.
      problems.push(`${source} is not a valid URL${urlFile ? ' (the file must hold just the URL)' : ''}`);
    }
  }

  let headers: Readonly<Record<string, string>> = {};
  if (headersFile) {
    const text = readText('webhook-headers-file', headersFile, problems);
    if (text !== undefined) {
      const parsed = parseHeaders(text);
      if (parsed.ok) headers = parsed.headers;
      else problems.push(`--webhook-headers-file ${headersFile}: ${parsed.problem}`);
    }
  }
  const contentType = Object.entries(headers).find(([k]) => k.toLowerCase() === 'content-type')?.[1] ?? 'application/json';
  let render = defaultBody(clusterName);
  if (templateFile) {
    const text = readText('webhook-template', templateFile, problems);
    if (text !== undefined) {
      const compiled = compileTemplate(text, clusterName, /\bjson\b/iu.test(contentType));
      if (compiled.ok) render = compiled.render;
      else problems.push(`--webhook-template ${templateFile}: ${compiled.problem}`);
    }
  } else if (!/\bjson\b/iu.test(contentType)) {
    problems.push(`--webhook-headers-file ${headersFile}: the default body is JSON; a Content-Type of ${contentType} needs a --webhook-template`);
  }
  if (!url) return undefined;
  return {
    settings: { url, headers, render, events: new Set(events as NoticeEvent[]), attemptTimeoutSeconds, deliveryTimeoutSeconds },
    files: { urlFile, headersFile, template: templateFile },
    summary: `webhook notices (${events.join(', ')}) go to ${url.protocol}//${url.host}/… with ${templateFile ? `the body of template ${templateFile}` : 'the Slack-compatible default body'}${Object.keys(headers).length > 0 ? ` and the headers of ${headersFile} (${Object.keys(headers).join(', ')})` : ''}; each attempt waits up to ${attemptTimeoutSeconds}s, retries go on for up to ${deliveryTimeoutSeconds}s`,
  };
}

function readText(flag: string, path: string, problems: Problems): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    problems.push(`--${flag} ${path}: cannot read it (${err.code ?? err.message})`);
    return undefined;
  }
}
