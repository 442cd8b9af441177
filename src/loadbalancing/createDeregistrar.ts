import type { EventRecorder, LoadBalancerDeregistrar } from '../lifecycle/ports.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { CallBudget, DEFAULT_CALL_BACKOFF } from './callBudget.js';
import { ClassicLoadBalancerOperations } from './classicLoadBalancers.js';
import { type DiscoveryMode, TargetDiscovery } from './discovery.js';
import { TargetDeregistrar } from './deregistrar.js';
import type { ClassicLoadBalancersPort, TargetGroupBindingsPort, TargetGroupsPort, TrafficSourcesPort } from './ports.js';
import { IndexMaintenance } from './indexMaintenance.js';
import { RegionIndex } from './regionIndex.js';
import { TargetGroupOperations } from './targetGroups.js';

export interface LoadBalancingConfig {
  /** Which kinds of load balancer to leave (--deregister-target-types). */
  readonly targetGroups: boolean;
  readonly classicLoadBalancers: boolean;
  readonly discovery: DiscoveryMode;
  /** --lb-scan-ttl: when an index entry (and a group's traffic sources) is due to be read again. */
  readonly scanTtlSeconds: number;
  /** --lb-api-rate: sustained calls per second for each Elastic Load Balancing API operation. */
  readonly apiRatePerSecond: number;
}

export interface LoadBalancingPorts {
  readonly targetGroups: TargetGroupsPort;
  readonly classic: ClassicLoadBalancersPort;
  readonly trafficSources: TrafficSourcesPort;
  /** The cluster's TargetGroupBindings; undefined: not watched. */
  readonly bindings?: TargetGroupBindingsPort;
}

export interface LoadBalancingDeps {
  readonly events: EventRecorder;
  readonly metrics: Metrics;
  readonly log: Logger;
  /** Whether an instance id is one of the cluster's Nodes (the index reads ahead the attributes of their groups). */
  readonly isClusterInstance?: (instanceId: string) => boolean;
}

export interface LoadBalancing {
  readonly deregistrar: LoadBalancerDeregistrar;
  /**
   * Builds the region index, then keeps it fresh in the background until `signal` aborts. Without it the index is
   * read on demand only, by the events that need it.
   */
  runIndex(signal: AbortSignal): Promise<void>;
  /** The index's first build only (tests: the state a running service is in). */
  buildIndex(signal: AbortSignal): Promise<void>;
}

/**
 * Merge window for DeregisterTargets / DeregisterInstancesFromLoadBalancer / health reads across events: half a
 * second of a deregistration that then drains for its delay (300 s by default) buys calls shared by every event
 * reaching the group meanwhile.
 */
const BATCH_WINDOW_MS = 500;
/** Keeps the wait within 2-3 s of a target leaving `draining`, once its deregistration delay has passed. */
const POLL_INTERVAL_MS = 2_000;
const FIRST_POLL_SLACK_MS = 500;
const ATTRIBUTES_TTL_MS = 10 * 60_000;
const CALL_TIMEOUT_MS = 5 * 60_000;
const LIST_TIMEOUT_MS = 5 * 60_000;
/** A target group that does not answer within this (retries included) fails alone; the others go on. */
const GROUP_READ_TIMEOUT_MS = 15_000;
const MAX_CONCURRENT_CALLS = 10;
/**
 * The index's background reads take this share of --lb-api-rate (0.1 call/s at the default 5): its steady cost,
 * whatever the size of the region, leaving the rest to the events and to other clients of the account.
 */
const BACKGROUND_SHARE = 1 / 50;

/** Wires the load-balancer deregistration module (and its region index) from its ports and the validated configuration. */
export function createLoadBalancing(ports: LoadBalancingPorts, config: LoadBalancingConfig, deps: LoadBalancingDeps): LoadBalancing {
  const budget = new CallBudget({
    ratePerSecond: config.apiRatePerSecond,
    burst: Math.max(1, config.apiRatePerSecond * 2),
    maxConcurrent: MAX_CONCURRENT_CALLS,
    backoff: DEFAULT_CALL_BACKOFF,
    log: deps.log,
  });
  const targetGroups = config.targetGroups
    ? new TargetGroupOperations(ports.targetGroups, budget, {
      batchWindowMs: BATCH_WINDOW_MS, pollIntervalMs: POLL_INTERVAL_MS, firstPollSlackMs: FIRST_POLL_SLACK_MS,
      attributesTtlMs: ATTRIBUTES_TTL_MS, callTimeoutMs: CALL_TIMEOUT_MS,
    })
    : undefined;
  const classic = config.classicLoadBalancers
    ? new ClassicLoadBalancerOperations(ports.classic, budget, { batchWindowMs: BATCH_WINDOW_MS, maxPollIntervalMs: POLL_INTERVAL_MS * 2, callTimeoutMs: CALL_TIMEOUT_MS })
    : undefined;
  const index = new RegionIndex({
    targetGroups: config.targetGroups ? ports.targetGroups : undefined,
    classic: config.classicLoadBalancers ? ports.classic : undefined,
    budget, log: deps.log, wholeRegion: config.discovery !== 'targeted',
    refreshAfterMs: config.scanTtlSeconds * 1000, backgroundRatePerSecond: config.apiRatePerSecond * BACKGROUND_SHARE,
    groupReadTimeoutMs: GROUP_READ_TIMEOUT_MS, listTimeoutMs: LIST_TIMEOUT_MS, concurrency: MAX_CONCURRENT_CALLS,
    isClusterTarget: deps.isClusterInstance ?? (() => false), attributes: targetGroups,
    boundArns: () => (ports.bindings?.current() ?? []).flatMap((b) => (b.arn ? [b.arn] : [])),
  });
  const maintenance = new IndexMaintenance(index);
  const discovery = new TargetDiscovery({
    trafficSources: ports.trafficSources, bindings: ports.bindings, index, targetGroups: config.targetGroups, classic, budget,
    trafficSourcesTtlMs: config.scanTtlSeconds * 1000, callTimeoutMs: CALL_TIMEOUT_MS,
  });
  return {
    deregistrar: new TargetDeregistrar({ discovery, targetGroups, classic, events: deps.events, metrics: deps.metrics, mode: config.discovery }),
    runIndex: (signal) => maintenance.run(signal),
    buildIndex: (signal) => maintenance.build(signal),
  };
}
