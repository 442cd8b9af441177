import { clustersNamedBy } from '../lifecycle/clusterScope.js';
import { arnName } from './desired.js';
import { mapBounded } from './mapBounded.js';
import type { LifecycleHooks } from './ports.js';

const READS_IN_FLIGHT = 5;

/**
 * The clusters that share a queue: every cluster named by the tags of a group one of whose hooks notifies the
 * queue, plus those of `alsoGroups` (groups about to be enrolled) and `alsoCluster`. Reads every group's hooks of
 * the region (one DescribeLifecycleHooks each), so it is for enroll and doctor, never for serve.
 */
export async function clustersSharingQueue(
  hooks: LifecycleHooks,
  queueName: string,
  also: { readonly groups: readonly string[]; readonly cluster: string | undefined },
  signal: AbortSignal,
): Promise<string[]> {
  const groups = await hooks.allGroups(signal);
  const notifying = await mapBounded(groups, READS_IN_FLIGHT, async (g) =>
    ((await hooks.describeHooks(g, undefined, signal)).some((h) => arnName(h.notificationTargetArn) === queueName) ? [g] : []));
  const names = [...new Set([...notifying.flat(), ...also.groups])];
  const tags = names.length > 0 ? await hooks.groupTags(names, signal) : new Map<string, Record<string, string>>();
  const clusters = new Set(also.cluster ? [also.cluster] : []);
  for (const t of tags.values()) for (const c of clustersNamedBy(t)) clusters.add(c);
  return [...clusters].sort();
}
