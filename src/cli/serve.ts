import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import * as k8s from '@kubernetes/client-node';
import { AwsAutoScaling } from '../aws/autoScaling.js';
import { AutoScalingGroupClusterScope } from '../aws/groupTags.js';
import { AwsInstances } from '../aws/instances.js';
import { SqsQueue, readQueueSettings, resolveQueueUrl } from '../aws/sqsQueue.js';
import { NodeDrainer } from '../drain/drainer.js';
import { VolumeDetachmentWait } from '../drain/volumeDetachment.js';
import { SelfAccessReviewer } from '../kube/accessReview.js';
import { createKubeClients } from '../kube/apiClients.js';
import { KubeCluster } from '../kube/kubeCluster.js';
import { LeaseActionStore } from '../kube/leaseActionStore.js';
import { NodeEventRecorder } from '../kube/nodeEventRecorder.js';
import { WatchedNodeDirectory } from '../kube/nodeDirectory.js';
import { WatchedVolumeAttachments } from '../kube/volumeAttachments.js';
import { missingPermissions } from '../kube/permissionCheck.js';
import { servicePermissions } from '../kube/permissions.js';
import { ActionRegistry } from '../lifecycle/actionRegistry.js';
import { InstanceWork } from '../lifecycle/instanceWork.js';
import { MissingPermissionsError } from '../lifecycle/errors.js';
import { describeBudget } from '../lifecycle/timeBudget.js';
import { Semaphore } from '../lifecycle/semaphore.js';
import { withTimeout } from '../lifecycle/sleep.js';
import { resumeOrphanedActions } from '../lifecycle/orphanScanner.js';
import { SharedQueueWatch } from '../lifecycle/sharedQueue.js';
import { LifecycleWorkflow } from '../lifecycle/workflow.js';
import { TAINT_KEY } from '../lifecycle/terminationSteps.js';
import { startHttpServer } from '../observability/httpServer.js';
import { type Logger, createLogger } from '../observability/logger.js';
import { Metrics } from '../observability/metrics.js';
import { QueueConsumer } from '../queue/queueConsumer.js';
import { createAwsClients } from './awsClients.js';
import { wireLoadBalancing } from './loadBalancingWiring.js';
import type { BuildInfo } from './buildInfo.js';
import { type ServeConfig, timeBudgetOf } from './serveConfig.js';

/** Labels that keep the node out of Service load balancers (#72: both the GA and the alpha label). */
export const EXCLUDE_FROM_LB_LABELS = {
  'node.kubernetes.io/exclude-from-external-load-balancers': 'true',
  'alpha.service-controller.kubernetes.io/exclude-balancer': 'true',
} as const;

const DRAIN_POLL_INTERVAL_MS = 1_000;
const RETRY_LATER_SECONDS = 30;

export interface ServeEnvironment {
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Aborted on SIGTERM/SIGINT. */
  readonly shutdown: AbortSignal;
}

/** Wires the service from a validated configuration and runs it until `shutdown` aborts. */
export async function runServe(config: ServeConfig, build: BuildInfo, environment: ServeEnvironment): Promise<void> {
  const log = createLogger({ level: config.logLevel, format: config.logFormat });
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
  const kubeClients = createKubeClients(loadKubeConfig(config.localMode, environment.env), metrics, undefined, config.apiTimeoutSeconds * 1000);
  const leaseNamespace = resolveLeaseNamespace(config.leaseNamespace, environment.env);
  try {
    // Start only when able to work: the queue is reachable and every permission the steps need is granted.
    const { queueUrl, queueSettings } = await withTimeout([environment.shutdown], 60_000, async (startup) => {
      const reviewer = new SelfAccessReviewer(kubeClients, kubeIdentity(config.localMode, environment.env));
      const permissions = servicePermissions(leaseNamespace, { dryRun: config.dryRun });
      const [url, missing, missingOptional] = await Promise.all([
        resolveQueueUrl(aws.sqs, config.queueName, config.region, startup),
        missingPermissions(reviewer, permissions.filter((p) => !p.optional), log, startup),
        missingPermissions(reviewer, permissions.filter((p) => p.optional), log, startup),
      ]);
      if (missing.length > 0) throw new MissingPermissionsError(missing);
      for (const line of missingOptional) log.warn(line);
      return { queueUrl: url, queueSettings: await readQueueSettings(aws.sqs, url, startup) };
    });
    await serveUntilShutdown(config, { aws, kubeClients, leaseNamespace, queueUrl, queueSettings, metrics, log }, environment);
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
}

async function serveUntilShutdown(config: ServeConfig, w: Wiring, environment: ServeEnvironment): Promise<void> {
  const { aws, kubeClients, leaseNamespace, metrics, log } = w;
  const nodes = new WatchedNodeDirectory(kubeClients, log, metrics, { watchTimeoutSeconds: config.nodeWatchTimeoutSeconds });
  const attachments = config.volumeDetachTimeoutSeconds > 0 ? new WatchedVolumeAttachments(kubeClients, log, metrics, { watchTimeoutSeconds: config.nodeWatchTimeoutSeconds }) : undefined;
  // An empty POD_NAME (a downward-API mistake) must not make every replica the same identity.
  const identity = environment.env['POD_NAME'] || `${hostname()}-${process.pid}`;
  const events = new NodeEventRecorder(kubeClients, log, identity);
  const cluster = new KubeCluster(kubeClients);
  const registry = new ActionRegistry();
  const store = new LeaseActionStore(kubeClients, leaseNamespace, identity, config.leaseDurationSeconds, config.queueName);
  log.info(`replica ${identity} ${config.dryRun ? 'records no actions (--dry-run)' : `records actions as Leases in namespace ${leaseNamespace} (lease duration ${config.leaseDurationSeconds}s)`}${config.clusterName ? `; acting only for cluster ${config.clusterName}` : ''}`);
  const sharedQueue = new SharedQueueWatch({ queueName: config.queueName, clusterName: config.clusterName, maxReceiveCount: w.queueSettings.maxReceiveCount, log });
  sharedQueue.checkAtStartup();
  const nodeLabels = config.withDeregister ? EXCLUDE_FROM_LB_LABELS : {};
  const { loadBalancing, bindings } = wireLoadBalancing(config, { ...w, nodes, events });
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
    },
    queueHasRedrivePolicy: w.queueSettings.hasRedrivePolicy,
    // --dry-run writes no Lease: nothing is owned, nothing is resumed.
    store: config.dryRun ? undefined : store,
    scope: new AutoScalingGroupClusterScope(aws.autoScaling, config.clusterName),
    autoScaling: new AwsAutoScaling(aws.autoScaling),
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
    }),
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
  });
  const consumer = new QueueConsumer(new SqsQueue(aws.sqs, w.queueUrl, config.apiTimeoutSeconds * 1000), {
    queueName: config.queueName,
    waitTimeSeconds: config.pollingIntervalSeconds,
    visibilityTimeoutSeconds: config.visibilityTimeoutSeconds,
    maxInFlight: config.maxInFlight,
    apiTimeoutSeconds: config.apiTimeoutSeconds,
  }, workflow.handleMessage, log, metrics);

  log.info(`starting metrics server on /metrics${config.metricsAddress}`);
  let receiving = false;
  const http = await startHttpServer(config.metricsAddress, metrics, {
    // Alive: until the loops start, the process is starting (the startup probe covers that); then both must run.
    live: () => !receiving || (consumer.isAlive() && nodes.health().live),
    notReadyReasons: () => [
      ...(nodes.health().problem ? [nodes.health().problem!] : []),
      ...(attachments?.health().problem ? [attachments.health().problem!] : []),
      ...(consumer.isHealthy() ? [] : [`queue ${config.queueName} not reachable`]),
    ],
  });
  log.info(`metrics server listening on port ${http.port}`);
  try {
    await Promise.all([nodes.start(), attachments?.start(), bindings?.start()]);
    log.info('node cache synced');
    // Built once the Nodes are known: the groups holding them get their attributes read ahead.
    void loadBalancing?.runIndex(environment.shutdown);
    receiving = true;
    await Promise.all([
      consumer.run(environment.shutdown),
      config.dryRun ? Promise.resolve() : resumeOrphanedActions({ store, registry, resume: workflow.resume, log, signal: environment.shutdown }),
    ]);
    log.info('stopped receiving; in-flight actions are at a safe point');
  } finally {
    await events.flush();
    await Promise.all([nodes.stop().catch(() => undefined), attachments?.stop().catch(() => undefined), bindings?.stop()]);
    await http.close();
  }
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
  if (localMode) kc.loadFromFile(localMode);
  else if (env['KUBERNETES_SERVICE_HOST']) kc.loadFromCluster();
  else kc.loadFromDefault();
  return kc;
}

function logConfiguration(log: Logger, c: ServeConfig, build: BuildInfo): void {
  log.info(`starting lifecycle-manager service v${build.version}`);
  log.info(`region = ${c.region}`);
  log.info(`queue = ${c.queueName}`);
  log.info(`polling interval seconds = ${c.pollingIntervalSeconds}`);
  log.info(`max time to process seconds = ${c.maxTimeToProcessSeconds}`);
  log.info(`node drain timeout seconds = ${c.drainTimeoutSeconds}`);
  log.info(`unknown node drain timeout seconds = ${c.drainTimeoutUnknownSeconds}`);
  log.info(`node drain retry interval seconds = ${c.drainIntervalSeconds}`);
  log.info(`node drain retry attempts = ${c.drainRetries}`);
  log.info(`max termination grace period seconds = ${c.maxTerminationGracePeriodSeconds}`);
  log.info(`with alb deregister = ${c.withDeregister}`);
  log.info(`deregister target types = [${c.deregisterTargetTypes.join(' ')}]`);
  if (c.withDeregister) {
    log.info(`deregister order = ${c.deregisterOrder}, load balancer discovery = ${c.lbDiscovery} (scan reused for ${c.lbScanTtlSeconds}s), ${c.lbApiRatePerSecond} Elastic Load Balancing calls/s per API, waiting up to ${c.deregistrationTimeoutSeconds}s for targets to drain`);
  }
  log.info(`longest termination = ${describeBudget(timeBudgetOf(c))}; API requests time out after ${c.apiTimeoutSeconds}s`);
  if (c.dryRun) log.warn('--dry-run: every lifecycle action is planned and left alone (no cordon, eviction, deregistration, completion or heartbeat); its hook ends with its DefaultResult');
  if (c.cordonOnly) log.info('--cordon-only: nodes are cordoned and deregistered, never drained');
  if (c.taintEffect) log.info(`nodes are tainted ${TAINT_KEY}=<instance-id>:${c.taintEffect} with the cordon`);
  if (c.taintEffect === 'NoExecute') log.warn('--taint-effect NoExecute: the kubelet deletes every pod that does not tolerate the taint at once, without PodDisruptionBudgets or the tiered drain');
}
