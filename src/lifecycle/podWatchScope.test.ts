import { describe, expect, it } from 'vitest';
import { pod, setup } from '../../test/unit/fakes/workflow.js';

describe('the pod watch of an action\'s Node', () => {
  it('is held from the moment the Node is found, through the drain, and let go when the action ends', async () => {
    const t = setup();
    t.cluster.pods = [pod('a')];
    const evict = t.cluster.evictPod.bind(t.cluster);
    const heldAtEviction: boolean[] = [];
    t.cluster.evictPod = async (p) => {
      heldAtEviction.push(t.cluster.podWatches.length === 1 && !t.cluster.podWatches[0]!.until.aborted);
      return evict(p);
    };
    const [m, lease] = t.message();
    await t.workflow.handleMessage(m, lease);
    expect(t.autoScaling.completions).toEqual(['CONTINUE']);
    expect(heldAtEviction).toEqual([true]);
    expect(t.cluster.podWatches.map((w) => [w.name, w.until.aborted])).toEqual([['n1', true]]);
  });

  it.each([[{ dryRun: true }, 'DryRunPlan'], [{ cordonOnly: true }, 'LifecycleHookProcessed']] as const)('is not held with %o, which reads the pods once', async (config, lastEvent) => {
    const t = setup({ config });
    t.cluster.pods = [pod('a')];
    const [m, lease] = t.message();
    await t.workflow.handleMessage(m, lease);
    expect(t.events.map((e) => e.reason)).toContain(lastEvent); // it went past the Node
    expect(t.cluster.podWatches).toEqual([]);
  });
});
