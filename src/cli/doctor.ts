import { readFileSync } from 'node:fs';
import * as k8s from '@kubernetes/client-node';
import { type Command, Option } from 'commander';
import { evaluateInstallation } from '../doctor/checks.js';
import { type DoctorFlags, validateDoctorFlags } from '../doctor/doctorSettings.js';
import { type DoctorDeps, gatherFacts } from '../doctor/facts.js';
import { renderReport, summarize } from '../doctor/report.js';
import { SelfAccessReviewer } from '../kube/accessReview.js';
import { createKubeClients } from '../kube/apiClients.js';
import { ConfigError, describeError } from '../lifecycle/errors.js';
import { Metrics } from '../observability/metrics.js';
import { DrainPlanner } from '../drain/drainPlan.js';
import { renderNodePlan } from '../doctor/nodePlan.js';
import { KubeCluster } from '../kube/kubeCluster.js';
import { drainBudgetSeconds } from '../lifecycle/timeBudget.js';
import { silentLogger } from '../observability/logger.js';
import { intFrom } from './flagValues.js';
import { collect, commandSignal, printLines, runAwsCommand } from './commandSupport.js';
import { SERVE_FLAGS } from './serveFlags.js';

const DOCTOR_TIMEOUT_MS = 2 * 60_000;
const SERVICE_ACCOUNT_NAMESPACE_FILE = '/var/run/secrets/kubernetes.io/serviceaccount/namespace';
/** serve's flags that decide whether an installation fits; doctor takes them with serve's names and defaults. */
const SERVE_FLAGS_CHECKED = ['local-mode', 'lease-namespace', 'drain-timeout', 'drain-retries', 'drain-interval', 'max-termination-grace-period', 'max-time-to-process', 'node-join-timeout', 'deregistration-timeout', 'volume-detach-timeout', 'visibility-timeout', 'polling-interval', 'with-deregister', 'deregister-target-types', 'cluster-name'];

/** `doctor`: checks a running or planned installation and prints a ✓/✗ table with a fix for each ✗. */
export function registerDoctor(program: Command, env: Readonly<Record<string, string | undefined>>): void {
  const doctor = program.command('doctor')
    .summary('checks an installation: queue, hooks, timeouts, IAM and RBAC; prints a fix for each problem')
    .description([
      'Checks a running or planned installation and prints one row per check (✓ passed, ✗ failed with its fix,',
      '– skipped with the reason); exits 1 when any check failed. It checks: the queue is reachable; its',
      'dead-letter queue; that a crashed replica\'s message comes back before a hook can expire; each hook\'s target,',
      'HeartbeatTimeout and DefaultResult against the drain budget of the serve flags given here; the IAM',
      'permissions serve needs (iam:SimulatePrincipalPolicy, skipped where unavailable); and every Kubernetes',
      'permission serve uses (SelfSubjectAccessReview, as the identity of --local-mode or the in-cluster account).',
    ].join(' '))
    .option('--region <string>', 'AWS region of the queue and the Auto Scaling groups; falls back to $AWS_REGION')
    .option('--queue-name <string>', 'name of the SQS queue serve consumes (required)')
    .option('--target-scaling-groups <list>', 'comma separated groups that should be enrolled; default: every group with a hook notifying the queue', collect)
    .option('--hook-name <string>', 'name of the lifecycle hook', 'lifecycle-manager')
    .option('--default-result <string>', 'the DefaultResult the hooks should have (CONTINUE or ABANDON)', 'CONTINUE')
    .option('--principal-arn <string>', 'ARN of the IAM role or user serve runs as (e.g. its IRSA role); default: the identity running doctor')
    .option('--node <name>', 'also print the drain plan for this Node now (its pods by eviction tier; PodDisruptionBudgets allowing no disruption, grace periods longer than the drain budget, pods without a controller, emptyDir data), failing when it has problems; without --queue-name only that is checked');
  for (const name of SERVE_FLAGS_CHECKED) {
    const flag = SERVE_FLAGS.find((f) => f.name === name);
    if (!flag) continue;
    const option = new Option(`--${flag.name} ${flag.kind === 'bool' ? '[bool]' : flag.kind === 'int' ? '<int>' : '<string>'}`, `(serve) ${flag.description}`).default(flag.defaultValue);
    if (flag.kind === 'bool') option.preset('true');
    doctor.addOption(option);
  }
  doctor.action(async (options: Record<string, string | string[] | undefined>) => {
    const str = (key: string): string | undefined => options[key] as string | undefined;
    const nodeName = str('node');
    if (nodeName && !str('queueName')) {
      await checkNodePlan(nodeName, str, env);
      return;
    }
    const settings = validateDoctorFlags({
      region: str('region'), queueName: str('queueName'), targetScalingGroups: options['targetScalingGroups'] as string[],
      hookName: str('hookName'), defaultResult: str('defaultResult'), principalArn: str('principalArn'), localMode: str('localMode'),
      leaseNamespace: str('leaseNamespace') || defaultLeaseNamespace(env),
      drainTimeout: str('drainTimeout'), drainRetries: str('drainRetries'), drainInterval: str('drainInterval'),
      maxTerminationGracePeriod: str('maxTerminationGracePeriod'), maxTimeToProcess: str('maxTimeToProcess'),
      visibilityTimeout: str('visibilityTimeout'), pollingInterval: str('pollingInterval'),
      withDeregister: str('withDeregister'), deregisterTargetTypes: str('deregisterTargetTypes'),
      nodeJoinTimeout: str('nodeJoinTimeout'), deregistrationTimeout: str('deregistrationTimeout'), volumeDetachTimeout: str('volumeDetachTimeout'), clusterName: str('clusterName'),
    } satisfies DoctorFlags, env);
    await runAwsCommand({ name: 'doctor', region: settings.region, timeoutMs: DOCTOR_TIMEOUT_MS, rerunSafe: false }, async (aws, signal) => {
      const deps: DoctorDeps = { aws, simulator: aws.simulator, reviewer: accessReviewer(settings.localMode, env) };
      const results = evaluateInstallation(settings, await gatherFacts(settings, deps, signal));
      printLines(renderReport(results));
      if (results.some((r) => r.status === 'fail')) throw new ConfigError([`doctor: ${summarize(results)}; see the fixes above`]);
    });
    if (nodeName) await checkNodePlan(nodeName, str, env);
  });
}

/** `doctor --node NAME`: the drain plan a termination of that node's instance would start with now; exit 1 on problems. */
async function checkNodePlan(nodeName: string, str: (key: string) => string | undefined, env: Readonly<Record<string, string | undefined>>): Promise<void> {
  const problems: string[] = [];
  const budget = {
    drainTimeoutSeconds: intFrom('drain-timeout', str('drainTimeout') ?? '300', 0, 172_800, problems),
    drainRetries: intFrom('drain-retries', str('drainRetries') ?? '3', 1, 1000, problems),
    drainIntervalSeconds: intFrom('drain-interval', str('drainInterval') ?? '30', 0, 172_800, problems),
    maxTerminationGracePeriodSeconds: intFrom('max-termination-grace-period', str('maxTerminationGracePeriod') ?? '900', 0, 172_800, problems),
  };
  if (problems.length > 0) throw new ConfigError(problems);
  const kc = loadKubeConfig(str('localMode') ?? '', env);
  const cluster = new KubeCluster(createKubeClients(kc, new Metrics({ defaultMetrics: false })));
  const { signal, dispose } = commandSignal(DOCTOR_TIMEOUT_MS);
  try {
    if (!(await cluster.getNode(nodeName, signal))) throw new ConfigError([`doctor: node ${nodeName} does not exist`]);
    const plan = await new DrainPlanner(cluster).plan(nodeName, drainBudgetSeconds({ ...budget, nodeJoinTimeoutSeconds: 0, deregistrationTimeoutSeconds: 0, volumeDetachTimeoutSeconds: 0 }) || undefined, silentLogger, signal);
    printLines(renderNodePlan(plan));
    if (plan.blockers.length > 0) throw new ConfigError([`doctor: node ${nodeName}: ${plan.blockers.length} drain plan problems; see above`]);
  } catch (e) {
    if (signal.aborted) throw new ConfigError([`doctor stopped: ${describeError(signal.reason)}`]);
    if (e instanceof ConfigError) throw e;
    throw new ConfigError([`doctor: cannot read node ${nodeName}'s drain plan: ${describeError(e)}`]);
  } finally {
    dispose();
  }
}

function loadKubeConfig(localMode: string, env: Readonly<Record<string, string | undefined>>): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  if (localMode) kc.loadFromFile(localMode);
  else if (env['KUBERNETES_SERVICE_HOST']) kc.loadFromCluster();
  else kc.loadFromDefault();
  return kc;
}

/** serve's default for --lease-namespace: the pod's namespace (downward API or service account), else lifecycle-manager. */
function defaultLeaseNamespace(env: Readonly<Record<string, string | undefined>>): string {
  if (env['POD_NAMESPACE']) return env['POD_NAMESPACE'];
  try {
    return readFileSync(SERVICE_ACCOUNT_NAMESPACE_FILE, 'utf8').trim() || 'lifecycle-manager';
  } catch {
    return 'lifecycle-manager';
  }
}

/** A SelfSubjectAccessReview client for the kubeconfig serve would use, or why there is none. */
function accessReviewer(localMode: string, env: Readonly<Record<string, string | undefined>>): DoctorDeps['reviewer'] {
  const kc = new k8s.KubeConfig();
  let identity = 'the in-cluster service account';
  try {
    if (localMode) kc.loadFromFile(localMode);
    else if (env['KUBERNETES_SERVICE_HOST']) kc.loadFromCluster();
    else kc.loadFromDefault();
    if (localMode || !env['KUBERNETES_SERVICE_HOST']) identity = `kubeconfig context '${kc.getCurrentContext()}'`;
    return new SelfAccessReviewer(createKubeClients(kc, new Metrics({ defaultMetrics: false })), identity);
  } catch (e) {
    return { unavailable: `cannot load a kubeconfig: ${describeError(e)}`, identity };
  }
}
