import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SAMPLE_NOTICE } from '../notifications/webhookBody.js';
import { VALID_SERVE_FLAGS, serveConfigProblems } from '../../test/unit/fakes/serveFlags.js';
import { attributeName } from './serveFlags.js';
import { validateServeConfig } from './serveConfig.js';

const valid = { ...VALID_SERVE_FLAGS, queueName: 'q' };
/** Flags by their command-line names. */
const flags = (raw: Record<string, string>) => Object.fromEntries(Object.entries(raw).map(([k, v]) => [attributeName(k), v]));
const dir = mkdtempSync(join(tmpdir(), 'lm-webhook-flags-'));
function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

const problems = (raw: Record<string, string>): string[] => serveConfigProblems(flags(raw), {}, valid);

describe('webhook flags', () => {
  it('sends none by default', () => {
    expect(validateServeConfig(valid, {}, new Set()).webhook).toBeUndefined();
  });

  it('reads the URL from a file (a mounted Secret), trimmed, and the headers file', () => {
    const c = validateServeConfig({ ...valid, ...flags({ 'webhook-url-file': file('url', 'https://hooks.example/services/T/B/secret\n'), 'webhook-headers-file': file('h', '# auth\nAuthorization: Bearer x\n') }) }, {}, new Set());
    expect(c.webhook?.settings.url.href).toBe('https://hooks.example/services/T/B/secret');
    expect(c.webhook?.settings.headers).toEqual({ Authorization: 'Bearer x' });
    expect(c.webhook?.summary).not.toContain('secret');
    expect(c.webhook?.summary).not.toContain('Bearer');
  });

  it('makes each bad input one line that shows no secret', () => {
    expect(problems({ 'webhook-url-file': join(dir, 'missing') })).toEqual([`--webhook-url-file ${join(dir, 'missing')}: cannot read it (ENOENT)`]);
    expect(problems({ 'webhook-url': 'not a url with secret' })).toEqual(['--webhook-url is not a valid URL']);
    expect(problems({ 'webhook-url': 'ftp://x/secret' })).toEqual(['--webhook-url must be an http:// or https:// URL, got a ftp: URL']);
    expect(problems({ 'webhook-url': 'http://127.0.0.1/', 'webhook-url-file': file('u2', 'http://127.0.0.1/') })).toEqual(['--webhook-url and --webhook-url-file are exclusive: give one of them']);
    expect(problems({ 'webhook-url': 'http://127.0.0.1/', 'webhook-events': 'completed,evicted' })).toEqual(['--webhook-events accepts received, drained, completed, failed; unknown: evicted']);
    expect(problems({ 'webhook-template': file('t0', '{{ text | json }}') })).toEqual(['--webhook-template needs --webhook-url or --webhook-url-file']);
    expect(problems({ 'webhook-url': 'http://127.0.0.1/', 'webhook-headers-file': file('h2', 'Authorization Bearer secret') })).toEqual([`--webhook-headers-file ${join(dir, 'h2')}: line 1 is not "Name: value"`]);
    const bad = file('t1', '{"text": {{ txt | json }}}');
    expect(problems({ 'webhook-url': 'http://127.0.0.1/', 'webhook-template': bad })).toEqual([expect.stringMatching(new RegExp(`^--webhook-template ${bad}: fails to render: .*txt`, 'u'))]);
  });

  it('renders a good template with the notice', () => {
    const c = validateServeConfig({ ...valid, ...flags({ 'webhook-url': 'http://127.0.0.1/', 'webhook-template': file('t2', '{"msg": {{ text | json }}, "ev": {{ event | json }}}') }) }, {}, new Set());
    expect(JSON.parse(c.webhook!.settings.render(SAMPLE_NOTICE))).toMatchObject({ ev: 'failed', msg: expect.stringContaining('i-0123456789abcdef0') });
  });
});
