import { describe, expect, it } from 'vitest';
import { SAMPLE_NOTICE, compileTemplate, defaultBody } from './webhookBody.js';

describe('webhook bodies', () => {
  it('defaults to Slack\'s {"text": …}', () => {
    const body = JSON.parse(defaultBody('prod')({ ...SAMPLE_NOTICE, event: 'received' })) as Record<string, unknown>;
    expect(Object.keys(body)).toEqual(['text']);
    expect(body['text']).toBe('lifecycle-manager: instance i-0123456789abcdef0 (node ip-10-0-1-23.ec2.internal) of nodes-a is terminating (hook lifecycle-manager); draining it');
  });

  it('says "dry run" and gives the plan for a dry run\'s notice', () => {
    const body = JSON.parse(defaultBody(undefined)({ ...SAMPLE_NOTICE, event: 'received', dryRunPlan: 'would cordon node n1; would evict 3 pods' })) as { text: string };
    expect(body.text).toBe('lifecycle-manager (dry run): instance i-0123456789abcdef0 (node ip-10-0-1-23.ec2.internal) of nodes-a is terminating (hook lifecycle-manager); nothing was changed: would cordon node n1; would evict 3 pods');
  });

  it('renders a Liquid template with the notice\'s variables', () => {
    const t = compileTemplate('{"event": {{ event | json }}, "id": {{ instanceId | json }}, "cluster": {{ clusterName | json }}, "steps": {{ degradedSteps | json }}}', 'prod', true);
    expect(t.ok).toBe(true);
    if (!t.ok) return;
    expect(JSON.parse(t.render(SAMPLE_NOTICE))).toEqual({ event: 'failed', id: 'i-0123456789abcdef0', cluster: 'prod', steps: ['deregister'] });
  });

  it('refuses at startup a template that does not parse, names an unknown variable or filter, or renders no JSON', () => {
    expect(compileTemplate('{{ event ', undefined, true)).toMatchObject({ ok: false, problem: expect.stringMatching(/^cannot parse it/u) });
    expect(compileTemplate('{"x": {{ instanceID | json }}}', undefined, true)).toMatchObject({ ok: false, problem: expect.stringMatching(/^fails to render: .*instanceID/u) });
    expect(compileTemplate('{"x": {{ event | shout }}}', undefined, true)).toMatchObject({ ok: false, problem: expect.stringMatching(/^cannot parse it: .*shout/u) });
    expect(compileTemplate('{"x": {{ text }}}', undefined, true)).toMatchObject({ ok: false, problem: expect.stringMatching(/not JSON .*json filter/u) });
    expect(compileTemplate('{% include "/etc/passwd" %}', undefined, false)).toMatchObject({ ok: false });
    expect(compileTemplate('plain {{ text }}', undefined, false).ok).toBe(true);
  });
});
