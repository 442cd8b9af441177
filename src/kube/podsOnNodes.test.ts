import { describe, expect, it } from 'vitest';
import type { PodInfo } from '../lifecycle/ports.js';
import { silentLogger } from '../observability/logger.js';
import { type NodePodSeed, type NodePodWatch, PodsOnNodes } from './podsOnNodes.js';

function pod(name: string): PodInfo {
  return { namespace: 'ns', name, uid: `uid-${name}`, phase: 'Running', ownerKinds: ['ReplicaSet'], isMirror: false, deletionTimestamp: undefined, terminationGracePeriodSeconds: 30, podIps: [] };
}

/** An in-memory NodePodWatch: `pods` is what its watch holds; `current` whether it may answer reads. */
class FakeWatch implements NodePodWatch {
  pods_: PodInfo[] = [pod('a')];
  current = true;
  started = 0;
  stopped = 0;
  failStarts = 0;
  /** The seed of each start (undefined: it listed). */
  readonly seeds: Array<NodePodSeed | undefined> = [];
  constructor(readonly node: string) {}
  async start(seed?: NodePodSeed) {
    this.started++;
    this.seeds.push(seed);
    if (seed) this.pods_ = [...seed.pods];
    if (this.failStarts > 0) { this.failStarts--; throw new Error(seed ? 'watch pods: HTTP 503' : 'list pods: HTTP 503'); }
  }
  async stop() { this.stopped++; }
  isCurrent() { return this.current; }
  pods() { return this.pods_; }
}

function setup(failingStarts = 0) {
  const opened: FakeWatch[] = [];
  let failing = failingStarts;
  const pods = new PodsOnNodes((node) => {
    const w = new FakeWatch(node);
    if (failing > 0) { failing--; w.failStarts = 1; }
    opened.push(w);
    return w;
  }, silentLogger);
  return { pods, opened };
}

const signal = new AbortController().signal;

describe('PodsOnNodes', () => {
  it('answers nothing for a node no action holds (the caller LISTs), and opens no watch for it', async () => {
    const { pods, opened } = setup();
    expect(await pods.read('n1', signal)).toBeUndefined();
    expect(opened).toEqual([]);
  });

  it('opens one watch at the first read of a held node and answers every later read from it', async () => {
    const { pods, opened } = setup();
    const action = new AbortController();
    pods.hold('n1', action.signal);
    expect(opened).toEqual([]); // holding alone costs nothing
    expect(await Promise.all([pods.read('n1', signal), pods.read('n1', signal)])).toEqual([[pod('a')], [pod('a')]]);
    opened[0]!.pods_ = [];
    expect(await pods.read('n1', signal)).toEqual([]); // the watch saw the pod go
    expect(opened.map((w) => [w.node, w.started])).toEqual([['n1', 1]]);
  });

  it('falls back to the apiserver (undefined) while the watch is not current, and answers again once it is', async () => {
    const { pods, opened } = setup();
    pods.hold('n1', new AbortController().signal);
    await pods.read('n1', signal);
    opened[0]!.current = false;
    expect(await pods.read('n1', signal)).toBeUndefined();
    opened[0]!.current = true;
    expect(await pods.read('n1', signal)).toEqual([pod('a')]);
    expect(opened).toHaveLength(1);
  });

  it('throws when the first LIST fails and starts again at the next read', async () => {
    const { pods, opened } = setup(1);
    pods.hold('n1', new AbortController().signal);
    await expect(pods.read('n1', signal)).rejects.toThrow('HTTP 503');
    expect(await pods.read('n1', signal)).toEqual([pod('a')]);
    expect(opened.map((w) => w.started)).toEqual([1, 1]);
  });

  it('is shared by the actions holding a node and stops when the last of them ends', async () => {
    const { pods, opened } = setup();
    const first = new AbortController();
    const second = new AbortController();
    pods.hold('n1', first.signal);
    pods.hold('n1', first.signal); // idempotent
    pods.hold('n1', second.signal);
    await pods.read('n1', signal);
    first.abort();
    expect(opened[0]!.stopped).toBe(0);
    expect(await pods.read('n1', signal)).toEqual([pod('a')]);
    second.abort();
    expect(opened[0]!.stopped).toBe(1);
    expect(pods.heldNodes).toBe(0);
    expect(await pods.read('n1', signal)).toBeUndefined();
  });

  it('stops a watch whose action ended while its first LIST ran', async () => {
    const { pods, opened } = setup();
    const action = new AbortController();
    pods.hold('n1', action.signal);
    const read = pods.read('n1', signal);
    action.abort();
    await read;
    expect(opened[0]!.stopped).toBe(1);
  });

  it('starts the watch from the node\'s last LIST when there is one, and from a LIST of its own after that one was used', async () => {
    const { pods, opened } = setup();
    pods.remember('n1', [pod('p1'), pod('p2')], '4711');
    const drain = new AbortController();
    pods.hold('n1', drain.signal);
    expect(await pods.read('n1', signal)).toEqual([pod('p1'), pod('p2')]);
    expect(opened[0]!.seeds).toEqual([{ pods: [pod('p1'), pod('p2')], resourceVersion: '4711', atMs: expect.any(Number) }]);
    // While a watch is open a LIST does not replace what it knows.
    pods.remember('n1', [pod('x')], '4800');
    drain.abort();
    pods.hold('n1', new AbortController().signal);
    await pods.read('n1', signal);
    expect(opened[1]!.seeds).toEqual([undefined]);
  });

  it('keeps no seed of a LIST without pods or without a resourceVersion: such a watch lists first', async () => {
    const { pods, opened } = setup();
    pods.remember('n1', [], '4711');
    pods.remember('n2', [pod('a')], undefined);
    pods.hold('n1', new AbortController().signal);
    pods.hold('n2', new AbortController().signal);
    await pods.read('n1', signal);
    await pods.read('n2', signal);
    expect(opened.map((w) => w.seeds)).toEqual([[undefined], [undefined]]);
  });

  it('lists within the same read when the watch could not start from the seed', async () => {
    const { pods, opened } = setup(1);
    pods.remember('n1', [pod('p1')], '4711');
    pods.hold('n1', new AbortController().signal);
    expect(await pods.read('n1', signal)).toEqual([pod('a')]); // what the second watch's LIST found
    expect(opened.map((w) => w.seeds.map((seed) => seed?.resourceVersion ?? 'listed'))).toEqual([['4711'], ['listed']]);
  });

  it('stops every watch at close() and holds nothing after it', async () => {
    const { pods, opened } = setup();
    pods.hold('n1', new AbortController().signal);
    pods.hold('n2', new AbortController().signal);
    await pods.read('n1', signal);
    await pods.read('n2', signal);
    await pods.close();
    expect(opened.map((w) => w.stopped)).toEqual([1, 1]);
    pods.hold('n3', new AbortController().signal);
    expect(await pods.read('n3', signal)).toBeUndefined();
    expect(opened).toHaveLength(2);
  });
});
