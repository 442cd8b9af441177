/**
 * Whether an Auto Scaling group's tags say it belongs to `clusterName`: the tags EKS, eksctl, kops and the
 * cluster-autoscaler conventions put on node groups (`kubernetes.io/cluster/<name>` with any value, or
 * `eks:cluster-name` / `alpha.eksctl.io/cluster-name` equal to the name).
 */
export function isTaggedForCluster(tags: Readonly<Record<string, string>>, clusterName: string): boolean {
  if (`kubernetes.io/cluster/${clusterName}` in tags) return true;
  return tags['eks:cluster-name'] === clusterName || tags['alpha.eksctl.io/cluster-name'] === clusterName;
}

/**
 * Visibility delay for a message that belongs to another cluster: short at first (1, 2, 4 … s) so the cluster it
 * belongs to gets it long before its hook's HeartbeatTimeout, growing to 30 s so that a queue whose other
 * consumer is down does not spin.
 */
export function foreignMessageDelaySeconds(receiveCount: number): number {
  return Math.min(30, 2 ** Math.max(0, Math.min(receiveCount - 1, 5)));
}
