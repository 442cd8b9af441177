import { describe, expect, it } from 'vitest';
import { pod, setup } from '../../test/unit/fakes/workflow.js';

describe('the pod watch of an action\'s Node', () => {
  it('is held only while the drain holds its slot: not for the pod IPs read before it, and let go when the drain ends', async () => {
    const t = setup();
    t.cluster.pods = [pod('a')];
    const held = () => t.cluster.podWatches.some((w) => !w.until.aborted);
    const heldAtRead: boolean[] = [];
    const list = t.cluster.listPodsOnNode.bind(t.cluster);
    t.cluster.listPodsOnNode = async () => {
      heldAtRead.push(held());
      return list();
    };
    const evict = t.cluster.evictPod.bind(t.cluster);
    const heldAtEviction: boolean[] = [];
    t.cluster.evictPod = async (p) => {
      heldAtEviction.push(held());
      return evict(p);
    };
    let heldAtCompletion: boolean | undefined;
    const complete = t.autoScaling.completeAction.bind(t.autoScaling);
    t.autoScaling.completeAction = async (...args) => {
      heldAtCompletion = held();
      return complete(...args);
    };
    const [m, lease] = t.message();
    await t.workflow.handleMessage(m, lease);
    expect(t.autoScaling.completions).toEqual(['CONTINUE']);
    // The first read is the load balancers' (the pod IPs): no watch is open for it; the drain's are.
    console.log(heldAtRead);
    expect(heldAtRead[0]).toBe(false);
    expect(heldAtRead.slice(1).length).toBeGreaterThan(0);
    expect(heldAtRead.slice(1).every(Boolean)).toBe(true);
    expect(heldAtEviction).toEqual([true]);
    expect(heldAtCompletion).toBe(false);
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
