import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import * as k8s from '../kube/k8s.js';
import { AwsAutoScaling } from '../aws/autoScaling.js';
import { AutoScalingGroupClusterScope } from '../aws/groupTags.js';
import { AwsInstances } from '../aws/instances.js';
import { SqsQueue, readQueueSettings, resolveQueueUrl } from '../aws/sqsQueue.js';
import { NodeDrainer } from '../drain/drainer.js';
import { VolumeDetachmentWait } from '../drain/volumeDetachment.js';
import { SelfAccessReviewer } from '../kube/accessReview.js';
import { createKubeClients } from '../kube/apiClients.js';
import { KubeCluster, toPodInfo } from '../kube/kubeCluster.js';
import { WatchedDisruptionBudgets } from '../kube/disruptionBudgets.js';
import { PodsOnNodes, watchPodsOfNode } from '../kube/podsOnNodes.js';
import { LeaseActionStore } from '../kube/leaseActionStore.js';
import { queueLabelOf } from '../kube/leaseRecords.js';
import { ReplicaLease } from '../kube/replicaLease.js';
import { NodeEventRecorder } from '../kube/nodeEventRecorder.js';
import { WatchedNodeDirectory } from '../kube/nodeDirectory.js';
import { WatchedVolumeAttachments } from '../kube/volumeAttachments.js';
import { missingPermissions } from '../kube/permissionCheck.js';
import { servicePermissions } from '../kube/permissions.js';
import { ActionRegistry } from '../lifecycle/actionRegistry.js';
import { InstanceWork } from '../lifecycle/instanceWork.js';
import { ConfigError, MissingPermissionsError, QueueNotFoundError, describeError, isAbort } from '../lifecycle/errors.js';
import { describeBudget } from '../lifecycle/timeBudget.js';
import { Semaphore } from '../lifecycle/semaphore.js';
import { withTimeout } from '../lifecycle/sleep.js';
import { retriedAtStartup } from './startupRetry.js';
import { resumeOrphanedActions } from '../lifecycle/orphanScanner.js';
import { SharedQueueWatch } from '../lifecycle/sharedQueue.js';
import { LifecycleWorkflow } from '../lifecycle/workflow.js';
import { ActionNotices } from '../lifecycle/notices.js';
import { createHttpTransport, describeRoute, proxySettingsFrom } from '../notifications/httpTransport.js';
import { WebhookNotifier } from '../notifications/webhookNotifier.js';
import { TAINT_KEY } from '../lifecycle/terminationSteps.js';
import { startHttpServer } from '../observability/httpServer.js';
import { type Logger, createLogger } from '../observability/logger.js';
import { Metrics } from '../observability/metrics.js';
import { routeProcessWarnings } from '../observability/processWarnings.js';
import { QueueConsumer } from '../queue/queueConsumer.js';
import { createAwsClients } from './awsClients.js';
import { wireLoadBalancing } from './loadBalancingWiring.js';
import type { BuildInfo } from './buildInfo.js';
import { StartupError } from './failures.js';
import { type ServeConfig, configFields, timeBudgetOf } from './serveConfig.js';

/** Labels that keep the node out of Service load balancers (#72: both the GA and the alpha label). */
export const EXCLUDE_FROM_LB_LABELS = {
  'node.kubernetes.io/exclude-from-external-load-balancers': 'true',
  'alpha.service-controller.kubernetes.io/exclude-balancer': 'true',
} as const;

const DRAIN_POLL_INTERVAL_MS = 1_000;
/** Server-side timeout of a node's pod watch (at most --node-watch-timeout). */
const POD_WATCH_TIMEOUT_SECONDS = 60;
/** Longest the startup checks (queue, permissions) may take before serve gives up with one line. */
const STARTUP_TIMEOUT_MS = 60_000;
const RETRY_LATER_SECONDS = 30;
/** At shutdown, webhook deliveries in flight get this long to finish (the pod's grace period is for the actions). */
const WEBHOOK_FLUSH_MS = 5_000;

export interface ServeEnvironment {
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Aborted on SIGTERM/SIGINT. */
  readonly shutdown: AbortSignal;
}

/** Wires the service from a validated configuration and runs it until `shutdown` aborts. */
export async function runServe(config: ServeConfig, build: BuildInfo, environment: ServeEnvironment): Promise<void> {
  const log = createLogger({ level: config.logLevel, format: config.logFormat });
  // From here on, Node.js and SDK warnings (e.g. the AWS SDK's Node.js 20 notice) are log lines in the chosen format.
  routeProcessWarnings(log);
  environment.shutdown.addEventListener('abort', () => {
    log.info(`${environment.shutdown.reason instanceof Error ? environment.shutdown.reason.message : 'shutdown requested'}; stopping`);
  }, { once: true });
  logConfiguration(log, config, build);
  if (config.kubectlPathSet !== undefined) {
    log.warn(`--kubectl-path=${config.kubectlPathSet} is ignored: lifecycle-manager drains through the Kubernetes API and needs no kubectl`);
  }
  const metrics = new Metrics();
  const aws = createAwsClients({
    region: config.region, refreshExpiredCredentials: config.refreshExpiredCredentials, env: environment.env,
    requestTimeoutMs: config.apiTimeoutSeconds * 1000,
  }, metrics);
  try {
    const kubeConfig = loadKubeConfig(config.localMode, environment.env);
    const kubeClients = createKubeClients(kubeConfig, metrics, undefined, config.apiTimeoutSeconds * 1000);
    const leaseNamespace = resolveLeaseNamespace(config.leaseNamespace, environment.env);
    // Start only when able to work: the queue is reachable and every permission the steps need is granted.
    const { queueUrl, queueSettings } = await withTimeout([environment.shutdown], STARTUP_TIMEOUT_MS, async (startup) => {
      const reviewer = new SelfAccessReviewer(kubeClients, kubeIdentity(config.localMode, environment.env));
      const permissions = servicePermissions(leaseNamespace, { dryRun: config.dryRun });
      const checkPermissions = (which: typeof permissions) => missingPermissions(reviewer, which, log, startup)
        .catch((e: unknown) => startupFailure(e, `cannot check Kubernetes permissions at ${kubeConfig.getCurrentCluster()?.server ?? 'the apiserver'}`, startup));
      const [url, missing, missingOptional] = await Promise.all([
        retriedAtStartup(`reaching SQS queue ${config.queueName}`, () => resolveQueueUrl(aws.sqs, config.queueName, config.region, startup), log, startup)
          .catch((e: unknown) => startupFailure(e, `cannot reach SQS queue ${config.queueName} in ${config.region}`, startup)),
        checkPermissions(permissions.filter((p) => !p.optional)),
        // Permissions serve can work without (TargetGroupBindings): a warning each, not a refusal to start.
        checkPermissions(permissions.filter((p) => p.optional)),
      ]);
      if (missing.length > 0) throw new MissingPermissionsError(missing);
      for (const line of missingOptional) log.warn(line);
      const settings = await retriedAtStartup(`reading SQS queue ${config.queueName}`, () => readQueueSettings(aws.sqs, url, startup), log, startup)
        .catch((e: unknown) => startupFailure(e, `cannot read the attributes of SQS queue ${config.queueName}`, startup));
      return { queueUrl: url, queueSettings: settings };
    });
    await serveUntilShutdown(config, { aws, kubeClients, leaseNamespace, queueUrl, queueSettings, metrics, log, userAgent: `lifecycle-manager/${build.version}` }, environment);
  } finally {
    aws.destroy();
  }
}

interface Wiring {
  readonly aws: ReturnType<typeof createAwsClients>;
  readonly kubeClients: ReturnType<typeof createKubeClients>;
  readonly leaseNamespace: string;
  readonly queueUrl: string;
  readonly queueSettings: Awaited<ReturnType<typeof readQueueSettings>>;
  readonly metrics: Metrics;
  readonly log: Logger;
  readonly userAgent: string;
}

async function serveUntilShutdown(config: ServeConfig, w: Wiring, environment: ServeEnvironment): Promise<void> {
  const { aws, kubeClients, leaseNamespace, metrics, log } = w;
  const nodeLabels = config.withDeregister ? EXCLUDE_FROM_LB_LABELS : {};
  const watchTimings = { watchTimeoutSeconds: config.nodeWatchTimeoutSeconds };
  const nodes = new WatchedNodeDirectory(kubeClients, log, metrics, watchTimings, Object.keys(nodeLabels));
  const attachments = config.volumeDetachTimeoutSeconds > 0 ? new WatchedVolumeAttachments(kubeClients, log, metrics, watchTimings) : undefined;
  const budgets = new WatchedDisruptionBudgets(kubeClients, log, metrics, watchTimings);
  // A node's pods are watched while it is drained; a watch reconnects at least every minute, so a silent one is noticed soon.
  const podTimings = { watchTimeoutSeconds: Math.min(POD_WATCH_TIMEOUT_SECONDS, config.nodeWatchTimeoutSeconds) };
  const pods = new PodsOnNodes((name) => watchPodsOfNode(kubeClients, name, toPodInfo, log, metrics, podTimings), log);
  // An empty POD_NAME (a downward-API mistake) must not make every replica the same identity.
  const identity = environment.env['POD_NAME'] || `${hostname()}-${process.pid}`;
  const events = new NodeEventRecorder(kubeClients, log, identity);
  const cluster = new KubeCluster(kubeClients, { pods, budgets });
  const registry = new ActionRegistry();
  // One Lease per replica proves it alive for all its actions; each action's own Lease is written on phase changes only.
  const replica = new ReplicaLease(kubeClients, leaseNamespace, identity, config.leaseDurationSeconds, queueLabelOf(config.queueName), log);
  const store = new LeaseActionStore(kubeClients, leaseNamespace, replica, queueLabelOf(config.queueName));
  log.info(`replica ${identity} ${config.dryRun ? 'records no actions (--dry-run)' : `records actions as Leases in namespace ${leaseNamespace} (lease duration ${config.leaseDurationSeconds}s), alive while it renews Lease ${replica.name}`}${config.clusterName ? `; acting only for cluster ${config.clusterName}` : ''}`);
  const sharedQueue = new SharedQueueWatch({ queueName: config.queueName, clusterName: config.clusterName, maxReceiveCount: w.queueSettings.maxReceiveCount, log });
  sharedQueue.checkAtStartup();
  const { loadBalancing, bindings } = wireLoadBalancing(config, { ...w, nodes, events });
  const notices = createNotices(config, w, environment, store);
  const workflow = new LifecycleWorkflow({
    config: {
      verifyLifecycleState: config.verifyLifecycleState,
      maxTimeToProcessSeconds: config.maxTimeToProcessSeconds,
      deregisterOrder: config.deregisterOrder,
      withDeregister: config.withDeregister,
      nodeJoinTimeoutSeconds: config.nodeJoinTimeoutSeconds,
      nodeLabels,
      retryLaterSeconds: RETRY_LATER_SECONDS,
      budget: timeBudgetOf(config),
      dryRun: config.dryRun,
      cordonOnly: config.cordonOnly,
      taint: config.taintEffect ? { key: TAINT_KEY, value: '', effect: config.taintEffect } : undefined,
      ...(config.launchHooks ? { launch: { timeoutSeconds: config.launchTimeoutSeconds, waitForDaemonSets: config.launchWaitDaemonSets } } : {}),
    },
    queueHasRedrivePolicy: w.queueSettings.hasRedrivePolicy,
    // --dry-run writes no Lease: nothing is owned, nothing is resumed.
    store: config.dryRun ? undefined : store,
    scope: new AutoScalingGroupClusterScope(aws.autoScaling, config.clusterName),
    autoScaling: new AwsAutoScaling(aws.autoScaling, undefined, aws.heartbeats),
    instances: config.withDeregister ? new AwsInstances(aws.ec2) : undefined,
    nodes,
    cluster,
    drainer: new NodeDrainer(cluster, {
      drainTimeoutSeconds: config.drainTimeoutSeconds,
      drainTimeoutUnknownSeconds: config.drainTimeoutUnknownSeconds,
      drainIntervalSeconds: config.drainIntervalSeconds,
      drainRetries: config.drainRetries,
      maxTerminationGracePeriodSeconds: config.maxTerminationGracePeriodSeconds,
      nodeLabels,
      pollIntervalMs: DRAIN_POLL_INTERVAL_MS,
    }, nodes),
    volumes: attachments ? new VolumeDetachmentWait(attachments, cluster) : undefined,
    deregistrar: loadBalancing?.deregistrar,
    events,
    metrics,
    log,
    drainSlots: new Semaphore(config.maxDrainConcurrency),
    instanceWork: new InstanceWork(),
    registry,
    sharedQueue,
    shutdown: environment.shutdown,
    notices,
  });
  const consumer = new QueueConsumer(new SqsQueue(aws.sqs, w.queueUrl, config.apiTimeoutSeconds * 1000), {
    queueName: config.queueName,
    waitTimeSeconds: config.pollingIntervalSeconds,
    visibilityTimeoutSeconds: config.visibilityTimeoutSeconds,
    maxInFlight: config.maxInFlight,
    apiTimeoutSeconds: config.apiTimeoutSeconds,
  }, workflow.handleMessage, log, metrics);

  log.info(`starting metrics server on ${config.metricsAddress} (/metrics, /healthz, /readyz)`, { address: config.metricsAddress });
  let receiving = false;
  const http = await startHttpServer(config.metricsAddress, metrics, {
    // Alive: until the loops start, the process is starting (the startup probe covers that); then both must run.
    live: () => !receiving || (consumer.isAlive() && nodes.health().live),
    notReadyReasons: () => [
      ...(nodes.health().problem ? [nodes.health().problem!] : []),
      ...[attachments?.health().problem, budgets.health().problem].filter((p): p is string => p !== undefined),
      ...(consumer.isHealthy() ? [] : [`queue ${config.queueName} not reachable`]),
    ],
  });
  log.info(`metrics server listening on port ${http.port}`, { port: http.port });
  const renewing = new AbortController();
  try {
    await Promise.all([nodes.start(), attachments?.start(), budgets.start(), bindings?.start()]);
    log.info('node cache synced');
    // Built once the Nodes are known: the groups holding them get their attributes read ahead.
    void loadBalancing?.runIndex(environment.shutdown);
    // The replica's Lease exists before any action names this replica as its holder.
    if (!config.dryRun) {
      const acquired = await withTimeout([environment.shutdown], STARTUP_TIMEOUT_MS, (s) => retriedAtStartup(`creating this replica's Lease ${replica.name}`, () => replica.acquire(s), log, s)
        .then(() => true, (e: unknown) => (environment.shutdown.aborted ? false : startupFailure(e, `cannot create this replica's Lease ${replica.name} in namespace ${leaseNamespace}`, s))));
      // Stopped while starting: nothing was received, so nothing is handed back; a clean exit, not a startup failure.
      if (!acquired) return;
    }
    receiving = true;
    const renewal = config.dryRun ? Promise.resolve() : replica.keepRenewed(renewing.signal);
    await Promise.all([
      consumer.run(environment.shutdown),
      config.dryRun ? Promise.resolve() : resumeOrphanedActions({ store, registry, resume: workflow.resume, log, signal: environment.shutdown }),
    ]);
    log.info('stopped receiving; in-flight actions are at a safe point');
    renewing.abort();
    await renewal;
    // After the hand-over: what could not be handed over is claimable at once.
    if (!config.dryRun) await withTimeout([], 15_000, (s) => replica.release(s)).catch((e: unknown) => log.warn(`could not delete this replica's Lease (${describeError(e)}); it expires after ${config.leaseDurationSeconds}s`, { error: e }));
  } finally {
    renewing.abort();
    if (notices) await withTimeout([], WEBHOOK_FLUSH_MS, (signal) => notices.flush(signal));
    await events.flush();
    await Promise.all([nodes.stop().catch(() => undefined), attachments?.stop().catch(() => undefined), budgets.stop().catch(() => undefined), pods.close(), bindings?.stop()]);
    await http.close();
  }
}

/** Webhook notices, when --webhook-url or --webhook-url-file is set: recorded in the actions' Leases, posted in the background. */
function createNotices(config: ServeConfig, w: Wiring, environment: ServeEnvironment, store: LeaseActionStore): ActionNotices | undefined {
  if (!config.webhook) return undefined;
  const proxy = proxySettingsFrom(environment.env);
  w.log.info(`${config.webhook.summary}; ${describeRoute(config.webhook.settings.url, proxy)}`);
  const notifier = new WebhookNotifier(config.webhook.settings, createHttpTransport(proxy), w.metrics, w.log, { userAgent: w.userAgent });
  return new ActionNotices(notifier, store, w.metrics);
}

/** Who serve acts as, for messages: the kubeconfig context, or the pod's service account. */
function kubeIdentity(localMode: string, env: Readonly<Record<string, string | undefined>>): string {
  if (!localMode && env['KUBERNETES_SERVICE_HOST']) return 'the pod\'s service account';
  const kc = new k8s.KubeConfig();
  try {
    if (localMode) kc.loadFromFile(localMode);
    else kc.loadFromDefault();
    const as = kc.getCurrentUser()?.impersonateUser;
    return `kubeconfig context '${kc.getCurrentContext()}'${as ? ` (as ${as})` : ''}`;
  } catch {
    return 'the kubeconfig identity';
  }
}

/** --lease-namespace, else the pod's namespace (downward API or service account), else `lifecycle-manager`. */
function resolveLeaseNamespace(flag: string, env: Readonly<Record<string, string | undefined>>): string {
  if (flag) return flag;
  if (env['POD_NAMESPACE']) return env['POD_NAMESPACE'];
  try {
    return readFileSync('/var/run/secrets/kubernetes.io/serviceaccount/namespace', 'utf8').trim() || 'lifecycle-manager';
  } catch {
    return 'lifecycle-manager';
  }
}

function loadKubeConfig(localMode: string, env: Readonly<Record<string, string | undefined>>): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  try {
    if (localMode) kc.loadFromFile(localMode);
    else if (env['KUBERNETES_SERVICE_HOST']) kc.loadFromCluster();
    else kc.loadFromDefault();
  } catch (e) {
    throw new ConfigError([`${localMode ? `--local-mode: cannot load kubeconfig ${localMode}` : 'cannot load the kubeconfig'}: ${describeError(e)}`]);
  }
  return kc;
}

/**
 * A startup check that failed, as one line: what could not be done and why. Missing queues and permissions keep
 * their own message; a check cut short by the startup timeout says so.
 */
function startupFailure(e: unknown, what: string, startup: AbortSignal): never {
  if (e instanceof QueueNotFoundError || e instanceof MissingPermissionsError) throw e;
  if (startup.aborted && isAbort(e)) throw new StartupError(`${what}: no answer within ${STARTUP_TIMEOUT_MS / 1000}s (${describeError(startup.reason)})`, { cause: e });
  throw new StartupError(`${what}: ${describeError(e)}`, { cause: e });
}

/** The configuration in one line: upstream's first line as the message, every setting as a field. */
function logConfiguration(log: Logger, c: ServeConfig, build: BuildInfo): void {
  log.info(`starting lifecycle-manager service v${build.version}`, {
    version: build.version,
    commit: build.commit,
    config: configFields(c),
    longestTermination: describeBudget(timeBudgetOf(c)),
  });
  if (c.launchHooks) {
    log.info(`launch hooks: a launching instance's Node${c.launchWaitDaemonSets ? ' and its DaemonSet pods' : ''} must be Ready within ${c.launchTimeoutSeconds}s, else the launch is abandoned`);
  }
  if (c.dryRun) log.warn('--dry-run: every lifecycle action is planned and left alone (no cordon, eviction, deregistration, completion or heartbeat); its hook ends with its DefaultResult');
  if (c.cordonOnly) log.info('--cordon-only: nodes are cordoned and deregistered, never drained');
  if (c.taintEffect) log.info(`nodes are tainted ${TAINT_KEY}=<instance-id>:${c.taintEffect} with the cordon`);
  if (c.taintEffect === 'NoExecute') log.warn('--taint-effect NoExecute: the taint manager deletes every pod that does not tolerate the taint at once, without PodDisruptionBudgets or the tiered drain');
}
