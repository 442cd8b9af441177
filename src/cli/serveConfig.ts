import { existsSync } from 'node:fs';
import { ConfigError } from '../lifecycle/errors.js';
import { type TimeBudgetSettings, budgetTerms, totalBudgetSeconds } from '../lifecycle/timeBudget.js';
import { DISCOVERY_MODES, type DiscoveryMode } from '../loadbalancing/discovery.js';
import { type LogFormat, type LogLevel, toLogLevel } from '../observability/logger.js';
import { parseListenAddress } from '../observability/httpServer.js';
import { boolFrom, intFrom } from './flagValues.js';
import { SERVE_FLAGS, attributeName } from './serveFlags.js';
import { type ServeWebhook, webhookFrom } from './webhookFlags.js';

export const TARGET_TYPES = ['classic-elb', 'target-group'] as const;
export type TargetType = (typeof TARGET_TYPES)[number];
export const DEREGISTER_ORDERS = ['before-drain', 'after-drain'] as const;
export const TAINT_EFFECTS = ['NoSchedule', 'PreferNoSchedule', 'NoExecute'] as const;
export type TaintEffect = (typeof TAINT_EFFECTS)[number];
export type DeregisterOrder = (typeof DEREGISTER_ORDERS)[number];


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
  /** Webhook notifications (--webhook-url or --webhook-url-file); undefined sends none. */
  readonly webhook: ServeWebhook | undefined;
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
  const int = (flag: string): number => {
    const spec = SERVE_FLAGS.find((f) => f.name === flag);
    return intFrom(flag, str(flag), spec?.min ?? 0, spec?.max ?? Number.MAX_SAFE_INTEGER, problems);
  };
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

  const maxDrainConcurrency = int('max-drain-concurrency');
  const maxTimeToProcessSeconds = int('max-time-to-process');
  const maxTerminationGracePeriodSeconds = int('max-termination-grace-period');
  const drainTimeoutSeconds = int('drain-timeout');
  const drainTimeoutUnknownSeconds = int('drain-timeout-unknown');
  const drainIntervalSeconds = int('drain-interval');
  const drainRetries = int('drain-retries');
  const pollingIntervalSeconds = int('polling-interval');
  const maxInFlight = int('max-in-flight');
  const visibilityTimeoutSeconds = int('visibility-timeout');
  const nodeJoinTimeoutSeconds = int('node-join-timeout');
  const leaseDurationSeconds = int('lease-duration');
  const deregistrationTimeoutSeconds = int('deregistration-timeout');
  const volumeDetachTimeoutSeconds = int('volume-detach-timeout');
  const apiTimeoutSeconds = int('api-timeout');
  const nodeWatchTimeoutSeconds = int('node-watch-timeout');
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
  const lbScanTtlSeconds = int('lb-scan-ttl');
  const lbApiRatePerSecond = int('lb-api-rate');

  const metricsAddress = str('metrics-address');
  try {
    parseListenAddress(metricsAddress);
  } catch (e) {
    problems.push(`--metrics-address: ${(e as Error).message}`);
  }

  const webhook = webhookFrom({ str, int }, clusterName || undefined, problems);

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
    dryRun, cordonOnly, taintEffect: taintNode ? taintEffect as TaintEffect : undefined, webhook,
  };
}

/** Every setting serve runs with, by flag name (the effective value: the region from $AWS_REGION, for instance). */
export function configFields(c: ServeConfig): Record<string, string | number | boolean> {
  return {
    'local-mode': c.localMode, region: c.region, 'queue-name': c.queueName, 'log-level': c.logLevel, 'log-format': c.logFormat,
    'max-drain-concurrency': c.maxDrainConcurrency, 'max-time-to-process': c.maxTimeToProcessSeconds,
    'max-termination-grace-period': c.maxTerminationGracePeriodSeconds, 'drain-timeout': c.drainTimeoutSeconds,
    'drain-timeout-unknown': c.drainTimeoutUnknownSeconds, 'drain-interval': c.drainIntervalSeconds, 'drain-retries': c.drainRetries,
    'polling-interval': c.pollingIntervalSeconds, 'with-deregister': c.withDeregister,
    'deregister-target-types': c.deregisterTargetTypes.join(','), 'deregister-order': c.deregisterOrder,
    'deregistration-timeout': c.deregistrationTimeoutSeconds, 'lb-discovery': c.lbDiscovery, 'lb-scan-ttl': c.lbScanTtlSeconds,
    'lb-api-rate': c.lbApiRatePerSecond, 'refresh-expired-credentials': c.refreshExpiredCredentials,
    'metrics-address': c.metricsAddress, 'max-in-flight': c.maxInFlight, 'visibility-timeout': c.visibilityTimeoutSeconds,
    'node-join-timeout': c.nodeJoinTimeoutSeconds, 'verify-lifecycle-state': c.verifyLifecycleState, 'api-timeout': c.apiTimeoutSeconds,
    'node-watch-timeout': c.nodeWatchTimeoutSeconds, 'cluster-name': c.clusterName ?? '', 'lease-namespace': c.leaseNamespace,
    'lease-duration': c.leaseDurationSeconds, 'volume-detach-timeout': c.volumeDetachTimeoutSeconds, 'dry-run': c.dryRun,
    'cordon-only': c.cordonOnly, 'taint-node': c.taintEffect !== undefined, 'taint-effect': c.taintEffect ?? '',
    // Where notices go, never the URL itself (it often carries a secret), nor the headers' values.
    'webhook-url': c.webhook ? `${c.webhook.settings.url.origin}/…` : '', 'webhook-url-file': c.webhook?.files.urlFile ?? '',
    'webhook-headers-file': c.webhook?.files.headersFile ?? '', 'webhook-template': c.webhook?.files.template ?? '',
    'webhook-events': c.webhook ? [...c.webhook.settings.events].join(',') : '',
    'webhook-timeout': c.webhook?.settings.attemptTimeoutSeconds ?? '', 'webhook-delivery-timeout': c.webhook?.settings.deliveryTimeoutSeconds ?? '',
    ...(c.kubectlPathSet !== undefined ? { 'kubectl-path': c.kubectlPathSet } : {}),
  };
}
