import { AwsClassicLoadBalancers } from '../aws/elb.js';
import { AwsTargetGroups } from '../aws/elbv2.js';
import { AwsTrafficSources } from '../aws/trafficSources.js';
import type { KubeClients } from '../kube/apiClients.js';
import type { WatchedNodeDirectory } from '../kube/nodeDirectory.js';
import { WatchedTargetGroupBindings } from '../kube/targetGroupBindings.js';
import type { EventRecorder } from '../lifecycle/ports.js';
import { type LoadBalancing, createLoadBalancing } from '../loadbalancing/createDeregistrar.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { createAwsClients } from './awsClients.js';
import type { ServeConfig } from './serveConfig.js';

/** How often a missing TargetGroupBinding CRD is looked for again (at most; shorter with --node-watch-timeout). */
const BINDINGS_RECHECK_SECONDS = 60;

export interface LoadBalancingWiring {
  readonly aws: ReturnType<typeof createAwsClients>;
  readonly kubeClients: KubeClients;
  readonly metrics: Metrics;
  readonly log: Logger;
  readonly nodes: WatchedNodeDirectory;
  readonly events: EventRecorder;
}

/**
 * The load-balancer module with its ports: target groups, classic load balancers, the Auto Scaling group's traffic
 * sources and, unless --lb-discovery is scan, the cluster's TargetGroupBindings. Nothing without --with-deregister.
 */
export function wireLoadBalancing(config: ServeConfig, w: LoadBalancingWiring): { loadBalancing: LoadBalancing | undefined; bindings: WatchedTargetGroupBindings | undefined } {
  if (!config.withDeregister) return { loadBalancing: undefined, bindings: undefined };
  const { aws, kubeClients, metrics, log, nodes, events } = w;
  const targetGroups = config.deregisterTargetTypes.includes('target-group');
  const bindings = targetGroups && config.lbDiscovery !== 'scan'
    ? new WatchedTargetGroupBindings(kubeClients, log, metrics, { watchTimeoutSeconds: Math.min(BINDINGS_RECHECK_SECONDS, config.nodeWatchTimeoutSeconds) })
    : undefined;
  const loadBalancing = createLoadBalancing(
    { targetGroups: new AwsTargetGroups(aws.elbv2), classic: new AwsClassicLoadBalancers(aws.elb), trafficSources: new AwsTrafficSources(aws.autoScaling), ...(bindings ? { bindings } : {}) },
    {
      targetGroups, classicLoadBalancers: config.deregisterTargetTypes.includes('classic-elb'),
      discovery: config.lbDiscovery, scanTtlSeconds: config.lbScanTtlSeconds, apiRatePerSecond: config.lbApiRatePerSecond,
    },
    { events, metrics, log, isClusterInstance: (id) => nodes.findByInstanceId(id) !== undefined },
  );
  return { loadBalancing, bindings };
}
