import type * as k8s from '@kubernetes/client-node';
import type { TestAwsClients } from '../test/harness/awsClients.js';
import { type LoadBalancerFixtures, loadBalancerFixtures, testVpc } from '../test/harness/loadBalancers.js';
import { createBinding } from '../test/harness/targetGroupBindings.js';
import type { World, WorldInstance } from '../test/harness/world.js';

/** How a scenario's region and its target groups look (bench/README.md). */
export type LoadBalancerLayout =
  /** Every group registered by hand (as an operator would): instance k in groups (2k + j) mod `targetGroups`. */
  | { readonly kind: 'spread'; readonly targetGroups: number; readonly groupsPerInstance: number }
  /**
   * EKS: `instanceGroups` + `ipGroups` groups bound to the cluster by TargetGroupBindings, as the AWS Load Balancer
   * Controller makes them for Services — instance groups hold the nodes on a NodePort, ip group j holds pod j of
   * each node — and `unboundGroups` groups of the region no binding names (half instance groups without targets,
   * half ip groups with two addresses of no node). `boundNodes`: which nodes the bound groups hold.
   */
  | { readonly kind: 'bound'; readonly instanceGroups: number; readonly ipGroups: number; readonly unboundGroups: number; readonly boundNodes: 'terminated' | 'staying' };

export interface BuiltLoadBalancers {
  readonly fixtures: LoadBalancerFixtures;
  /** Every group created, bound ones first. */
  readonly groups: readonly string[];
  readonly bound: number;
  /** Target groups holding each terminated instance (0 when they hold none). */
  readonly groupsPerTerminated: number;
}

const NODE_PORT = 30080;
const POD_PORT = 8080;

export async function buildLoadBalancers(aws: TestAwsClients, admin: k8s.KubeConfig, world: World, layout: LoadBalancerLayout | undefined,
  terminated: readonly WorldInstance[], staying: readonly WorldInstance[], deregistrationDelaySeconds: number): Promise<BuiltLoadBalancers> {
  const lb = loadBalancerFixtures(aws);
  const groups: string[] = [];
  if (!layout) return { fixtures: lb, groups, bound: 0, groupsPerTerminated: 0 };
  if (layout.kind === 'spread') {
    for (let g = 0; g < layout.targetGroups; g++) groups.push(await lb.targetGroup(`bench-${g}-${world.id}`, { deregistrationDelaySeconds }));
    for (const [k, instance] of terminated.entries()) {
      for (let j = 0; j < layout.groupsPerInstance; j++) await lb.register(groups[(2 * k + j) % groups.length]!, [{ id: instance.instanceId, port: 80 }]);
    }
    return { fixtures: lb, groups, bound: 0, groupsPerTerminated: layout.groupsPerInstance };
  }
  const nodes = layout.boundNodes === 'terminated' ? terminated : staying;
  const vpcID = await testVpc(aws);
  for (let g = 0; g < layout.instanceGroups; g++) {
    const arn = await lb.targetGroup(`k8s-svc${g}-${world.id}`, { port: NODE_PORT + g, deregistrationDelaySeconds });
    groups.push(arn);
    await lb.register(arn, nodes.map((n) => ({ id: n.instanceId, port: NODE_PORT + g })));
    await createBinding(admin, { namespace: world.namespace, name: `svc${g}`, targetGroupARN: arn, targetType: 'instance', vpcID });
  }
  const podIps = await Promise.all(nodes.map(async (n) => (await world.podsOn(n.nodeName)).map((p) => p.status?.podIP ?? '').filter(Boolean).sort()));
  for (let g = 0; g < layout.ipGroups; g++) {
    const arn = await lb.targetGroup(`k8s-pods${g}-${world.id}`, { targetType: 'ip', port: POD_PORT, deregistrationDelaySeconds });
    groups.push(arn);
    const ips = podIps.flatMap((ofNode) => (ofNode[g] ? [ofNode[g]!] : []));
    for (let i = 0; i < ips.length; i += 100) await lb.register(arn, ips.slice(i, i + 100).map((id) => ({ id, port: POD_PORT })));
    await createBinding(admin, { namespace: world.namespace, name: `pods${g}`, targetGroupARN: arn, targetType: 'ip', vpcID });
  }
  for (let g = 0; g < layout.unboundGroups; g++) {
    const ip = g % 2 === 1;
    const arn = await lb.targetGroup(`other-${g}-${world.id}`, ip ? { targetType: 'ip', port: POD_PORT } : {});
    groups.push(arn);
    if (ip) await lb.register(arn, [{ id: `10.99.${g % 250}.1`, port: POD_PORT }, { id: `10.99.${g % 250}.2`, port: POD_PORT }]);
  }
  const bound = layout.instanceGroups + layout.ipGroups;
  return { fixtures: lb, groups, bound, groupsPerTerminated: layout.boundNodes === 'terminated' ? bound : 0 };
}
