import type { Discovered, DiscoveryProblem, Membership, TargetIdentity } from './discovery.js';
import type { IndexedGroup } from './regionIndex.js';

/** A group read for an event, with the VPC a binding gives for it when AWS did not say. */
export interface CandidateGroup {
  readonly group: IndexedGroup;
  readonly vpcHint: string | undefined;
}

/**
 * The instance's own targets in these groups, and only in groups of its VPC. An instance target is the instance's by
 * its id (AWS registers an instance only in a target group of its VPC); an ip target is taken only in a group of
 * the instance's VPC, read (EC2) only when some ip group holds one of its addresses — or when the groups holding its
 * id name different VPCs, which AWS never produces and which must not be guessed at. A group in another VPC,
 * bound to the cluster by a TargetGroupBinding or not, is never a candidate once the VPC is known.
 */
export async function selectMemberships(identity: TargetIdentity, groups: readonly CandidateGroup[], problems: DiscoveryProblem[]): Promise<Discovered> {
  const vpcOf = (c: CandidateGroup): string | undefined => c.group.summary.vpcId ?? c.vpcHint;
  const byId = groups.filter((c) => c.group.summary.targetType === 'instance' && c.group.targets.some((t) => t.id === identity.instanceId));
  const byAddress = groups.filter((c) => c.group.summary.targetType === 'ip' && c.group.targets.some((t) => identity.addresses.has(t.id)));
  const idVpcs = new Set(byId.flatMap((c) => { const v = vpcOf(c); return v ? [v] : []; }));
  const vpc = byAddress.length > 0 || idVpcs.size > 1 ? await identity.vpc() : undefined;
  if (byAddress.length > 0 && vpc === undefined) {
    problems.push({ what: `ip targets with the node's or its pods' addresses were left alone in ${byAddress.length} target groups: the instance's VPC is unknown, so they cannot be proven this instance's`, failureClass: 'permanent' });
  }
  let asInstance = byId;
  if (vpc !== undefined) asInstance = byId.filter((c) => vpcOf(c) === undefined || vpcOf(c) === vpc);
  else if (idVpcs.size > 1) {
    problems.push({ what: `the instance's id is registered in target groups of ${idVpcs.size} VPCs and its own VPC is unknown; they were left alone`, failureClass: 'permanent' });
    asInstance = [];
  }
  const asAddress = vpc === undefined ? [] : byAddress.filter((c) => vpcOf(c) === vpc);
  const memberships: Membership[] = [];
  for (const c of new Set([...asInstance, ...asAddress])) {
    const mine = c.group.targets.filter((t) => (c.group.summary.targetType === 'instance' ? t.id === identity.instanceId : identity.addresses.has(t.id)));
    if (mine.length > 0) memberships.push({ kind: 'target-group', arn: c.group.summary.arn, name: c.group.summary.name, targets: mine });
  }
  return { memberships, problems };
}
