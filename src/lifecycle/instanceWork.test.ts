import { describe, expect, it } from 'vitest';
import { InstanceWork } from './instanceWork.js';

const live = (): AbortSignal => new AbortController().signal;

describe('InstanceWork', () => {
  it('lets the instance\'s other actions share one run of the work, and its success for a while', async () => {
    let nowMs = 0;
    const work = new InstanceWork(() => nowMs);
    let runs = 0;
    let release: () => void = () => {};
    const slow = () => { runs++; return new Promise<string>((r) => { release = () => r('drained'); }); };
    let joined = 0;
    const first = work.once('drain u1', live(), slow, () => joined++);
    const second = work.once('drain u1', live(), slow, () => joined++);
    release();
    expect(await Promise.all([first, second])).toEqual(['drained', 'drained']);
    expect({ runs, joined }).toEqual({ runs: 1, joined: 1 });
    // A third action a minute later takes the same success; after five minutes it drains again.
    nowMs = 60_000;
    expect(await work.once('drain u1', live(), async () => { runs++; return 'again'; }, () => joined++)).toBe('drained');
    nowMs = 6 * 60_000;
    expect(await work.once('drain u1', live(), async () => { runs++; return 'again'; }, () => joined++)).toBe('again');
    expect(runs).toBe(2);
  });

  it('keeps no failure: the next action tries again', async () => {
    const work = new InstanceWork();
    await expect(work.once('drain u1', live(), async () => { throw new Error('pods still there'); }, () => {})).rejects.toThrow('pods still there');
    expect(await work.once('drain u1', live(), async () => 'drained', () => {})).toBe('drained');
  });

  it('does the work itself when the action doing it was stopped', async () => {
    const work = new InstanceWork();
    const owner = new AbortController();
    const first = work.once('drain u1', owner.signal, () => new Promise<string>((_, reject) => owner.signal.addEventListener('abort', () => reject(Object.assign(new Error('stopped'), { name: 'AbortError' })))), () => {});
    const second = work.once('drain u1', live(), async () => 'drained by the second', () => {});
    owner.abort();
    await expect(first).rejects.toThrow('stopped');
    expect(await second).toBe('drained by the second');
  });
});
