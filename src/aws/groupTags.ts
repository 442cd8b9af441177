import { type AutoScalingClient, DescribeTagsCommand } from '@aws-sdk/client-auto-scaling';
import { clustersNamedBy, isTaggedForCluster } from '../lifecycle/clusterScope.js';
import type { ClusterScope, GroupScope } from '../lifecycle/ports.js';
import { toDomainError } from './errors.js';

const TAGS_TTL_MS = 5 * 60_000;
const EVERY_GROUP_IS_OURS: GroupScope = { ours: true, clusters: [] };

/** --cluster-name scoping from the Auto Scaling group's tags (DescribeTags, cached per group). */
export class AutoScalingGroupClusterScope implements ClusterScope {
  private readonly cache = new Map<string, { scope: GroupScope; expiresAtMs: number }>();

  constructor(private readonly client: Pick<AutoScalingClient, 'send'>, readonly clusterName: string | undefined) {}

  async scopeOf(autoScalingGroupName: string, signal: AbortSignal): Promise<GroupScope> {
    if (!this.clusterName) return EVERY_GROUP_IS_OURS;
    const cached = this.cache.get(autoScalingGroupName);
    if (cached && cached.expiresAtMs > Date.now()) return cached.scope;
    const tags: Record<string, string> = {};
    try {
      let token: string | undefined;
      do {
        const out = await this.client.send(new DescribeTagsCommand({ Filters: [{ Name: 'auto-scaling-group', Values: [autoScalingGroupName] }], NextToken: token }), { abortSignal: signal });
        for (const t of out.Tags ?? []) if (t.Key) tags[t.Key] = t.Value ?? '';
        token = out.NextToken;
      } while (token);
    } catch (e) {
      throw toDomainError(e, 'autoscaling:DescribeTags');
    }
    const scope = { ours: isTaggedForCluster(tags, this.clusterName), clusters: clustersNamedBy(tags) };
    this.cache.set(autoScalingGroupName, { scope, expiresAtMs: Date.now() + TAGS_TTL_MS });
    return scope;
  }
}
