import type { EventRecorder, LoadBalancerDeregistrar } from '../lifecycle/ports.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { CallBudget, DEFAULT_CALL_BACKOFF } from './callBudget.js';
import { ClassicLoadBalancerOperations } from './classicLoadBalancers.js';
import { type DiscoveryMode, TargetDiscovery } from './discovery.js';
import { TargetDeregistrar } from './deregistrar.js';
import type { ClassicLoadBalancersPort, TargetGroupsPort, TrafficSourcesPort } from './ports.js';
import { RegionScan } from './regionScan.js';
import { TargetGroupOperations } from './targetGroups.js';

export interface LoadBalancingConfig {
  /** Which kinds of load balancer to leave (--deregister-target-types). */
  readonly targetGroups: boolean;
  readonly classicLoadBalancers: boolean;
  readonly discovery: DiscoveryMode;
  /** --lb-scan-ttl: how long a region scan (and a group's traffic sources) is trusted. */
  readonly scanTtlSeconds: number;
  /** --lb-api-rate: sustained calls per second for each Elastic Load Balancing API operation. */
  readonly apiRatePerSecond: number;
}

export interface LoadBalancingPorts {
  readonly targetGroups: TargetGroupsPort;
  readonly classic: ClassicLoadBalancersPort;
  readonly trafficSources: TrafficSourcesPort;
}

/** Merge window for DeregisterTargets / DeregisterInstancesFromLoadBalancer / health reads across events. */
const BATCH_WINDOW_MS = 250;
/** Keeps the wait within 2-3 s of a target leaving `draining`, once its deregistration delay has passed. */
const POLL_INTERVAL_MS = 2_000;
const FIRST_POLL_SLACK_MS = 500;
const ATTRIBUTES_TTL_MS = 10 * 60_000;
const CALL_TIMEOUT_MS = 5 * 60_000;
const SCAN_TIMEOUT_MS = 15 * 60_000;
/** A target group that does not answer within this (retries included) fails alone; the scan goes on. */
const GROUP_READ_TIMEOUT_MS = 15_000;
const MAX_CONCURRENT_CALLS = 10;

/** Wires the load-balancer deregistration module from its ports and the validated configuration. */
export function createLoadBalancerDeregistrar(ports: LoadBalancingPorts, config: LoadBalancingConfig, deps: { events: EventRecorder; metrics: Metrics; log: Logger }): LoadBalancerDeregistrar {
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
  const scan = new RegionScan({
    targetGroups: config.targetGroups ? ports.targetGroups : undefined,
    classic: config.classicLoadBalancers ? ports.classic : undefined,
    budget, log: deps.log, concurrency: MAX_CONCURRENT_CALLS, timeoutMs: SCAN_TIMEOUT_MS, groupReadTimeoutMs: GROUP_READ_TIMEOUT_MS,
  });
  const discovery = new TargetDiscovery({
    trafficSources: ports.trafficSources, targetGroups, classic, scan, budget,
    trafficSourcesTtlMs: config.scanTtlSeconds * 1000, callTimeoutMs: CALL_TIMEOUT_MS,
  });
  return new TargetDeregistrar({
    discovery, targetGroups, classic, events: deps.events, metrics: deps.metrics,
    mode: config.discovery, scanTtlMs: config.scanTtlSeconds * 1000,
  });
}
