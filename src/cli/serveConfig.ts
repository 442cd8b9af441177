import { existsSync } from 'node:fs';
import { ConfigError } from '../lifecycle/errors.js';
import { MAX_GLOBAL_TIMEOUT_SECONDS, type TimeBudgetSettings, budgetTerms, totalBudgetSeconds } from '../lifecycle/timeBudget.js';
import { DISCOVERY_MODES, type DiscoveryMode } from '../loadbalancing/discovery.js';
import { type LogFormat, type LogLevel, toLogLevel } from '../observability/logger.js';
import { parseListenAddress } from '../observability/httpServer.js';
import { boolFrom, intFrom } from './flagValues.js';
import { SERVE_FLAGS, attributeName } from './serveFlags.js';

export const TARGET_TYPES = ['classic-elb', 'target-group'] as const;
export type TargetType = (typeof TARGET_TYPES)[number];
export const DEREGISTER_ORDERS = ['before-drain', 'after-drain'] as const;
export const TAINT_EFFECTS = ['NoSchedule', 'PreferNoSchedule', 'NoExecute'] as const;
export type TaintEffect = (typeof TAINT_EFFECTS)[number];
export type DeregisterOrder = (typeof DEREGISTER_ORDERS)[number];

/**
 * No time flag may exceed what AWS lets a lifecycle action last (48 h): it keeps every wait inside what a Node.js
 * timer can represent, and a longer value could never be used anyway.
 */
const MAX_SECONDS = MAX_GLOBAL_TIMEOUT_SECONDS;

/** The validated `serve` configuration. */
export interface ServeConfig {
  readonly localMode: string;
  readonly region: string;
  readonly queueName: string;
  /** The --kubectl-path value when it was set explicitly (it is unused; we warn once). */
  readonly kubectlPathSet: string | undefined;
  readonly logLevel: LogLevel;
  readonly logFormat: LogFormat;
  readonly maxDrainConcurrency: number;
  readonly maxTimeToProcessSeconds: number;
  readonly maxTerminationGracePeriodSeconds: number;
  readonly drainTimeoutSeconds: number;
  readonly drainTimeoutUnknownSeconds: number;
  readonly drainIntervalSeconds: number;
  readonly drainRetries: number;
  readonly pollingIntervalSeconds: number;
  readonly withDeregister: boolean;
  readonly deregisterTargetTypes: readonly TargetType[];
  /** When the instance leaves its load balancers relative to the drain (--deregister-order). */
  readonly deregisterOrder: DeregisterOrder;
  /** How load balancers holding the instance are found (--lb-discovery). */
  readonly lbDiscovery: DiscoveryMode;
  readonly lbScanTtlSeconds: number;
  readonly lbApiRatePerSecond: number;
  readonly refreshExpiredCredentials: boolean;
  readonly metricsAddress: string;
  readonly maxInFlight: number;
  readonly visibilityTimeoutSeconds: number;
  readonly nodeJoinTimeoutSeconds: number;
  readonly verifyLifecycleState: boolean;
  readonly clusterName: string | undefined;
  /** Empty when not set: serve resolves it from the pod's environment. */
  readonly leaseNamespace: string;
  readonly leaseDurationSeconds: number;
  /** How long the load-balancer step may wait for targets to drain (--deregistration-timeout). */
  readonly deregistrationTimeoutSeconds: number;
  /** How long to wait for the node's volumes to be detached after the drain (--volume-detach-timeout). */
  readonly volumeDetachTimeoutSeconds: number;
  readonly dryRun: boolean;
  readonly cordonOnly: boolean;
  /** --taint-node's effect; undefined without --taint-node. */
  readonly taintEffect: TaintEffect | undefined;
  /** Bound on one AWS or Kubernetes request (--api-timeout). */
  readonly apiTimeoutSeconds: number;
  /** Server-side timeout of each node watch request (--node-watch-timeout). */
  readonly nodeWatchTimeoutSeconds: number;
}

/** The time terms of the configuration, as the steps' shares and the ceiling check use them. */
export function timeBudgetOf(c: Pick<ServeConfig, 'nodeJoinTimeoutSeconds' | 'deregistrationTimeoutSeconds' | 'withDeregister' | 'drainTimeoutSeconds' | 'drainRetries' | 'drainIntervalSeconds' | 'maxTerminationGracePeriodSeconds' | 'volumeDetachTimeoutSeconds'>): TimeBudgetSettings {
  return {
    nodeJoinTimeoutSeconds: c.nodeJoinTimeoutSeconds,
    deregistrationTimeoutSeconds: c.withDeregister ? c.deregistrationTimeoutSeconds : 0,
    drainTimeoutSeconds: c.drainTimeoutSeconds, drainRetries: c.drainRetries, drainIntervalSeconds: c.drainIntervalSeconds,
    maxTerminationGracePeriodSeconds: c.maxTerminationGracePeriodSeconds,
    volumeDetachTimeoutSeconds: c.volumeDetachTimeoutSeconds,
  };
}

export type RawFlags = Readonly<Record<string, string | boolean | undefined>>;

/**
 * Validates all flags at once and throws a ConfigError listing every problem, each naming the flag and the rule.
 * `explicitlySet` holds the flags given on the command line or through their environment variable.
 */
export function validateServeConfig(raw: RawFlags, env: Readonly<Record<string, string | undefined>>, explicitlySet: ReadonlySet<string>): ServeConfig {
  const problems: string[] = [];
  const str = (flag: string): string => {
    const v = raw[attributeName(flag)];
    return typeof v === 'string' ? v.trim() : String(v ?? SERVE_FLAGS.find((f) => f.name === flag)?.defaultValue ?? '');
  };
  const int = (flag: string, min: number, max = Number.MAX_SAFE_INTEGER): number => intFrom(flag, str(flag), min, max, problems);
  const bool = (flag: string): boolean => {
    const v = raw[attributeName(flag)];
    return boolFrom(flag, typeof v === 'boolean' ? v : str(flag), problems);
  };


  const localMode = str('local-mode');
  if (localMode && !existsSync(localMode)) problems.push(`--local-mode: provided kubeconfig path does not exist: ${localMode}`);
  const region = str('region') || env['AWS_REGION']?.trim() || env['AWS_DEFAULT_REGION']?.trim() || '';
  if (!region) problems.push('must provide valid AWS region name (--region or AWS_REGION)');
  const queueName = str('queue-name');
  if (!queueName) problems.push('must provide valid SQS queue name (--queue-name)');
  else if (!/^[A-Za-z0-9_-]{1,80}(\.fifo)?$/u.test(queueName)) problems.push(`--queue-name must be an SQS queue name (1-80 letters, digits, - or _), got "${queueName}"`);

  const logLevel = toLogLevel(str('log-level'));
  if (!logLevel) problems.push(`--log-level must be one of debug, info, warn, warning, error, got "${str('log-level')}"`);
  const logFormat = str('log-format');
  if (logFormat !== 'text' && logFormat !== 'json') problems.push(`--log-format must be text or json, got "${logFormat}"`);

  const maxDrainConcurrency = int('max-drain-concurrency', 1, 10_000);
  const maxTimeToProcessSeconds = int('max-time-to-process', 1, MAX_SECONDS);
  const maxTerminationGracePeriodSeconds = int('max-termination-grace-period', 0, MAX_SECONDS);
  const drainTimeoutSeconds = int('drain-timeout', 0, MAX_SECONDS);
  const drainTimeoutUnknownSeconds = int('drain-timeout-unknown', 0, MAX_SECONDS);
  const drainIntervalSeconds = int('drain-interval', 0, MAX_SECONDS);
  const drainRetries = int('drain-retries', 1, 1000);
  const pollingIntervalSeconds = int('polling-interval', 0, 20);
  const maxInFlight = int('max-in-flight', 1, 100_000);
  const visibilityTimeoutSeconds = int('visibility-timeout', 10, 43200);
  const nodeJoinTimeoutSeconds = int('node-join-timeout', 0, MAX_SECONDS);
  const leaseDurationSeconds = int('lease-duration', 5, 300);
  const deregistrationTimeoutSeconds = int('deregistration-timeout', 0, MAX_SECONDS);
  const volumeDetachTimeoutSeconds = int('volume-detach-timeout', 0, MAX_SECONDS);
  const apiTimeoutSeconds = int('api-timeout', 1, 300);
  const nodeWatchTimeoutSeconds = int('node-watch-timeout', 10, 3600);
  const clusterName = str('cluster-name');
  if (clusterName && !/^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/u.test(clusterName)) problems.push(`--cluster-name must be a cluster name (letters, digits, ., _ or -), got "${clusterName}"`);
  const leaseNamespace = str('lease-namespace');
  if (leaseNamespace && !/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/u.test(leaseNamespace)) problems.push(`--lease-namespace must be a Kubernetes namespace name, got "${leaseNamespace}"`);

  const types = str('deregister-target-types').split(',').map((t) => t.trim()).filter(Boolean);
  const unknownTypes = types.filter((t) => !(TARGET_TYPES as readonly string[]).includes(t));
  if (unknownTypes.length > 0) problems.push(`--deregister-target-types accepts ${TARGET_TYPES.join(', ')}; unknown: ${unknownTypes.join(', ')}`);
  const deregisterOrder = str('deregister-order');
  if (!(DEREGISTER_ORDERS as readonly string[]).includes(deregisterOrder)) problems.push(`--deregister-order must be ${DEREGISTER_ORDERS.join(' or ')}, got "${deregisterOrder}"`);
  const lbDiscovery = str('lb-discovery');
  if (!(DISCOVERY_MODES as readonly string[]).includes(lbDiscovery)) problems.push(`--lb-discovery must be one of ${DISCOVERY_MODES.join(', ')}, got "${lbDiscovery}"`);
  const lbScanTtlSeconds = int('lb-scan-ttl', 0, 3600);
  const lbApiRatePerSecond = int('lb-api-rate', 1, 1000);

  const metricsAddress = str('metrics-address');
  try {
    parseListenAddress(metricsAddress);
  } catch (e) {
    problems.push(`--metrics-address: ${(e as Error).message}`);
  }

  const withDeregister = bool('with-deregister');
  const dryRun = bool('dry-run');
  const cordonOnly = bool('cordon-only');
  const taintNode = bool('taint-node');
  const taintEffect = str('taint-effect');
  if (!(TAINT_EFFECTS as readonly string[]).includes(taintEffect)) problems.push(`--taint-effect must be one of ${TAINT_EFFECTS.join(', ')}, got "${taintEffect}"`);
  else if (!taintNode && explicitlySet.has('taint-effect')) problems.push('--taint-effect needs --taint-node');
  else if (taintNode && cordonOnly && taintEffect === 'NoExecute') problems.push('--taint-effect NoExecute evicts the pods (without their PodDisruptionBudgets), which --cordon-only promises not to do: use NoSchedule or PreferNoSchedule');
  if (problems.length === 0) {
    // Upstream's ceiling rule, with every wait a termination can make: the longest termination must fit.
    const budget = timeBudgetOf({ nodeJoinTimeoutSeconds, deregistrationTimeoutSeconds, withDeregister, drainTimeoutSeconds, drainRetries, drainIntervalSeconds, maxTerminationGracePeriodSeconds, volumeDetachTimeoutSeconds });
    const ceiling = totalBudgetSeconds(budget);
    if (maxTimeToProcessSeconds < ceiling) {
      problems.push(`--max-time-to-process (${maxTimeToProcessSeconds}s) must be >= the longest termination, ${ceiling}s: ${budgetTerms(budget).map((t) => t.what).join(' + ')}; raise it or lower one of those`);
    }
  }
  const refreshExpiredCredentials = bool('refresh-expired-credentials');
  const verifyLifecycleState = bool('verify-lifecycle-state');
  if (problems.length > 0) throw new ConfigError(problems);

  return {
    localMode, region, queueName,
    kubectlPathSet: explicitlySet.has('kubectl-path') ? str('kubectl-path') : undefined,
    logLevel: logLevel!, logFormat: logFormat as LogFormat,
    maxDrainConcurrency, maxTimeToProcessSeconds, maxTerminationGracePeriodSeconds, drainTimeoutSeconds,
    drainTimeoutUnknownSeconds, drainIntervalSeconds, drainRetries, pollingIntervalSeconds,
    withDeregister, deregisterTargetTypes: [...new Set(types)] as TargetType[], refreshExpiredCredentials,
    deregisterOrder: deregisterOrder as DeregisterOrder, lbDiscovery: lbDiscovery as DiscoveryMode, lbScanTtlSeconds, lbApiRatePerSecond,
    metricsAddress, maxInFlight, visibilityTimeoutSeconds, nodeJoinTimeoutSeconds,
    verifyLifecycleState, clusterName: clusterName || undefined, leaseNamespace, leaseDurationSeconds,
    deregistrationTimeoutSeconds, volumeDetachTimeoutSeconds, apiTimeoutSeconds, nodeWatchTimeoutSeconds,
    dryRun, cordonOnly, taintEffect: taintNode ? taintEffect as TaintEffect : undefined,
  };
}
