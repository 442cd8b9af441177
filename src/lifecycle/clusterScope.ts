/**
 * Whether an Auto Scaling group's tags say it belongs to `clusterName`: the tags EKS, eksctl, kops and the
 * cluster-autoscaler conventions put on node groups (`kubernetes.io/cluster/<name>` with any value, or
 * `eks:cluster-name` / `alpha.eksctl.io/cluster-name` equal to the name).
 */
export function isTaggedForCluster(tags: Readonly<Record<string, string>>, clusterName: string): boolean {
  if (`kubernetes.io/cluster/${clusterName}` in tags) return true;
  return tags['eks:cluster-name'] === clusterName || tags['alpha.eksctl.io/cluster-name'] === clusterName;
}

/** Every cluster the group's tags name, in the same conventions. */
export function clustersNamedBy(tags: Readonly<Record<string, string>>): string[] {
  const names = new Set<string>();
  for (const [key, value] of Object.entries(tags)) {
    const m = /^kubernetes\.io\/cluster\/(.+)$/u.exec(key);
    if (m?.[1]) names.add(m[1]);
    if ((key === 'eks:cluster-name' || key === 'alpha.eksctl.io/cluster-name') && value) names.add(value);
  }
  return [...names].sort();
}

/**
 * The smallest maxReceiveCount that keeps a queue shared by `clusters` clusters from sending a live hook's
 * message to its dead-letter queue. Each receive by another cluster counts (the message is released for its
 * owner); receives are spread about evenly over the clusters, so the owner misses m receives in a row with
 * probability (1 − 1/k)^m. Keep that below 1 in 10,000, and leave 5 receives for this cluster's own hand-overs
 * (restarts, brief AWS outages), as for an unshared queue.
 */
export function requiredMaxReceiveCount(clusters: number): number {
  if (clusters <= 1) return OWN_RECEIVES;
  return OWN_RECEIVES + Math.ceil(Math.log(1e-4) / Math.log(1 - 1 / clusters));
}

/** Receives an unshared queue needs for its own hand-overs (enroll's default maxReceiveCount). */
export const OWN_RECEIVES = 5;

/**
 * Visibility delay for a message that belongs to another cluster: short at first (1, 2, 4 … s) so the cluster it
 * belongs to gets it long before its hook's HeartbeatTimeout, growing to 30 s so that a queue whose other
 * consumer is down does not spin.
 */
export function foreignMessageDelaySeconds(receiveCount: number): number {
  return Math.min(30, 2 ** Math.max(0, Math.min(receiveCount - 1, 5)));
}
