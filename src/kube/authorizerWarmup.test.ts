import { describe, expect, it } from 'vitest';
import { AuthorizerWarmup } from './authorizerWarmup.js';

/** Feeds responses to an AuthorizerWarmup on a hand-driven clock; returns whether a 403 was judged warmup. */
function harness(windowMs = 30_000) {
  let nowMs = 1_000_000;
  const warmup = new AuthorizerWarmup(windowMs, () => nowMs);
  return {
    advance: (ms: number) => { nowMs += ms; },
    ok: (request: string, status = 200) => warmup.observe(request, status, {}),
    refused: (request: string): boolean => {
      const headers = {};
      warmup.observe(request, 403, headers);
      return warmup.isWarmupRefusal({ code: 403, headers });
    },
  };
}

describe('AuthorizerWarmup', () => {
  it('retries 403s on requests authorized before while nothing is authorized, for the window only', () => {
    const h = harness(30_000);
    h.ok('list pods');
    h.ok('create pods/eviction', 201);
    expect(h.refused('list pods')).toBe(true);
    h.advance(10_000);
    expect(h.refused('create pods/eviction')).toBe(true);
    h.advance(19_999);
    expect(h.refused('list pods')).toBe(true);
    h.advance(1);
    expect(h.refused('list pods')).toBe(false);
  });

  it('never treats a verb that was never authorized as warmup', () => {
    const h = harness();
    h.ok('list pods');
    expect(h.refused('patch nodes')).toBe(false);
  });

  it('counts 404, 409 and 429 as authorized (they are answered after authorization), but not 401 or 5xx', () => {
    const h = harness();
    h.ok('get nodes', 404);
    expect(h.refused('get nodes')).toBe(true);
    const h2 = harness();
    h2.ok('get nodes', 401);
    h2.ok('list pods', 503);
    expect(h2.refused('get nodes')).toBe(false);
    expect(h2.refused('list pods')).toBe(false);
  });

  it('takes a refusal that outlived another request being authorized as a real denial, until it is authorized again', () => {
    const h = harness();
    h.ok('get nodes');
    h.ok('list pods');
    expect(h.refused('get nodes')).toBe(true); // could still be a restart
    h.ok('list pods'); // the authorizer works: get nodes was taken away
    expect(h.refused('get nodes')).toBe(false);
    expect(h.refused('get nodes')).toBe(false);
    h.ok('get nodes'); // granted again
    h.ok('list pods');
    expect(h.refused('get nodes')).toBe(true);
  });

  it('starts a new window after the authorizer answered again', () => {
    const h = harness(5_000);
    h.ok('list pods');
    expect(h.refused('list pods')).toBe(true);
    h.advance(6_000);
    expect(h.refused('list pods')).toBe(false);
    h.ok('list pods');
    h.advance(60_000);
    expect(h.refused('list pods')).toBe(true);
  });
});
