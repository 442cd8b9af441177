import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { MergeWindow } from './mergeWindow.js';

interface Call { key: string; items: string[] }

function recorder(outcome: (call: Call) => Promise<string> = async (c) => `done ${c.items.length}`) {
  const calls: Call[] = [];
  const window = new MergeWindow<string, string>(
    { windowMs: 100, maxItems: 5, callTimeoutMs: 60_000, itemKey: (i) => i },
    (key, items) => {
      const call = { key, items: [...items()].sort() };
      calls.push(call);
      return outcome(call);
    },
  );
  return { calls, window };
}

const live = (): AbortSignal => new AbortController().signal;

describe('MergeWindow', () => {
  beforeEach(() => vi.useFakeTimers({ now: 0 }));
  afterEach(() => vi.useRealTimers());

  it('merges submissions for the same key within the window into one call, one call per key', async () => {
    const { calls, window } = recorder();
    const results = [
      window.submit('tg-a', ['i-1:80', 'i-1:8080'], live()),
      window.submit('tg-b', ['i-1:80'], live()),
      window.submit('tg-a', ['i-2:80', 'i-1:80'], live()),
    ];
    await vi.advanceTimersByTimeAsync(100);
    expect(await Promise.all(results)).toEqual(['done 3', 'done 1', 'done 3']);
    expect(calls).toEqual([{ key: 'tg-a', items: ['i-1:80', 'i-1:8080', 'i-2:80'] }, { key: 'tg-b', items: ['i-1:80'] }]);
  });

  it('sends a batch as soon as it holds maxItems distinct items, and starts a new one after it', async () => {
    const { calls, window } = recorder();
    const first = window.submit('tg', ['a', 'b', 'c'], live());
    const second = window.submit('tg', ['d', 'e'], live());
    const third = window.submit('tg', ['f'], live());
    await Promise.resolve();
    expect(calls).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(100);
    await Promise.all([first, second, third]);
    expect(calls.map((c) => c.items)).toEqual([['a', 'b', 'c', 'd', 'e'], ['f']]);
  });

  it('gives every caller of a failed call its own rejection, and later batches of the same key still work', async () => {
    let fail = true;
    const { window } = recorder(async () => {
      if (fail) throw new Error('AccessDenied on tg');
      return 'ok';
    });
    const a = window.submit('tg', ['a'], live());
    const b = window.submit('tg', ['b'], live());
    const settled = Promise.allSettled([a, b]);
    await vi.advanceTimersByTimeAsync(100);
    expect((await settled).map((s) => s.status === 'rejected' && (s.reason as Error).message)).toEqual(['AccessDenied on tg', 'AccessDenied on tg']);
    fail = false;
    const c = window.submit('tg', ['c'], live());
    await vi.advanceTimersByTimeAsync(100);
    expect(await c).toBe('ok');
  });

  it('keeps a started batch open while its call waits for its turn: whoever arrives meanwhile is sent with it', async () => {
    let turn: () => void = () => {};
    const calls: string[][] = [];
    const window = new MergeWindow<string, string>({ windowMs: 100, maxItems: 50, callTimeoutMs: 60_000, itemKey: (i) => i }, async (_key, items) => {
      await new Promise<void>((r) => { turn = r; }); // the call budget has no token yet
      calls.push([...items()].sort());
      return 'ok';
    });
    const first = window.submit('tg', ['i-1:80'], live());
    await vi.advanceTimersByTimeAsync(100); // the window closed: the call started and waits for the budget
    const late = [window.submit('tg', ['i-2:80'], live()), window.submit('tg', ['i-3:80', 'i-1:80'], live())];
    turn();
    expect(await Promise.all([first, ...late])).toEqual(['ok', 'ok', 'ok']);
    expect(calls).toEqual([['i-1:80', 'i-2:80', 'i-3:80']]);
    const after = window.submit('tg', ['i-4:80'], live());
    await vi.advanceTimersByTimeAsync(100);
    turn();
    expect(await after).toBe('ok');
    expect(calls).toEqual([['i-1:80', 'i-2:80', 'i-3:80'], ['i-4:80']]);
  });

  it('drops the items of a caller that aborts before the batch is sent; the others are unaffected', async () => {
    const { calls, window } = recorder();
    const quitter = new AbortController();
    const abandoned = window.submit('tg', ['mine', 'shared'], quitter.signal);
    const kept = window.submit('tg', ['shared', 'theirs'], live());
    quitter.abort(new Error('deadline'));
    await expect(abandoned).rejects.toThrow('deadline');
    await vi.advanceTimersByTimeAsync(100);
    expect(await kept).toBe('done 2');
    expect(calls).toEqual([{ key: 'tg', items: ['shared', 'theirs'] }]);
  });

  it('sends nothing when every caller of a batch aborted before it was sent', async () => {
    const { calls, window } = recorder();
    const quitter = new AbortController();
    const abandoned = window.submit('tg', ['a'], quitter.signal).catch(() => 'aborted');
    quitter.abort();
    await vi.advanceTimersByTimeAsync(1_000);
    expect(await abandoned).toBe('aborted');
    expect(calls).toEqual([]);
    expect(window.openBatches).toBe(0);
  });

  it('lets a caller stop waiting for a call already sent without affecting the others or a later batch', async () => {
    let release: (v: string) => void = () => {};
    const { calls, window } = recorder(() => new Promise<string>((r) => { release = r; }));
    const quitter = new AbortController();
    const abandoned = window.submit('tg', ['a'], quitter.signal);
    const kept = window.submit('tg', ['b'], live());
    await vi.advanceTimersByTimeAsync(100);
    const later = window.submit('tg', ['c'], live());
    quitter.abort(new Error('shutdown'));
    await expect(abandoned).rejects.toThrow('shutdown');
    release('first');
    expect(await kept).toBe('first');
    await vi.advanceTimersByTimeAsync(100);
    release('second');
    expect(await later).toBe('second');
    expect(calls.map((c) => c.items)).toEqual([['a', 'b'], ['c']]);
  });

  it('never loses or double-settles a caller, and sends every item of a caller that waited, whatever the interleaving', async () => {
    vi.useRealTimers();
    const op = fc.record({ key: fc.constantFrom('tg-a', 'tg-b'), items: fc.uniqueArray(fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f', 'g'), { maxLength: 4 }), abortAfterMs: fc.option(fc.integer({ min: 0, max: 4 })), fail: fc.boolean(), gapMs: fc.integer({ min: 0, max: 3 }) });
    await fc.assert(fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 12 }), async (ops) => {
      const sent: Array<{ key: string; items: string[] }> = [];
      const window = new MergeWindow<string, string>({ windowMs: 2, maxItems: 5, callTimeoutMs: 1_000, itemKey: (i) => i }, async (key, batch) => {
        // Sometimes the call waits for its turn (the rate budget) before it reads its items.
        if (key === 'tg-b') await new Promise((r) => setTimeout(r, 1));
        const items = [...batch()];
        sent.push({ key, items });
        await new Promise((r) => setTimeout(r, 1));
        if (ops.some((o) => o.fail && o.key === key && o.items.some((i) => items.includes(i)))) throw new Error(`failed ${key}`);
        return key;
      });
      const settledCount = ops.map(() => 0);
      const pending = ops.map(async (o, i) => {
        const controller = new AbortController();
        const p = window.submit(o.key, o.items, controller.signal).then(
          (v) => { settledCount[i]!++; return v === o.key ? 'ok' : `wrong result ${v}`; },
          (e: unknown) => { settledCount[i]!++; return (e as Error).message; },
        );
        if (o.abortAfterMs === 0) controller.abort(new Error('aborted'));
        else if (o.abortAfterMs !== null) setTimeout(() => controller.abort(new Error('aborted')), o.abortAfterMs);
        await new Promise((r) => setTimeout(r, o.gapMs));
        return p;
      });
      const outcomes = await Promise.all(pending);
      expect(settledCount.every((n) => n === 1)).toBe(true);
      ops.forEach((o, i) => {
        if (o.abortAfterMs === 0) expect(outcomes[i]).toBe('aborted');
        else expect(outcomes[i]).toMatch(o.abortAfterMs === null ? /^(ok|failed tg-[ab])$/u : /^(ok|failed tg-[ab]|aborted)$/u);
        if (o.abortAfterMs === null) for (const item of o.items) expect(sent.some((s) => s.key === o.key && s.items.includes(item))).toBe(true);
      });
      // A call whose callers all left before it was sent still holds its batch until it gives up (at once).
      await new Promise((r) => setTimeout(r, 5));
      expect(window.openBatches).toBe(0);
    }), { numRuns: 60 });
  });
});
