import { readFileSync } from 'node:fs';
import * as k8s from '../kube/k8s.js';
import { evaluateInstallation } from '../doctor/checks.js';
import { type DoctorFlags, validateDoctorFlags } from '../doctor/doctorSettings.js';
import { type DoctorDeps, gatherFacts } from '../doctor/facts.js';
import { jsonNodePlan, renderNodePlan } from '../doctor/nodePlan.js';
import { jsonReport, renderReport, summarize } from '../doctor/report.js';
import { type DrainPlan, DrainPlanner } from '../drain/drainPlan.js';
import { SelfAccessReviewer } from '../kube/accessReview.js';
import { createKubeClients } from '../kube/apiClients.js';
import { KubeCluster } from '../kube/kubeCluster.js';
import { ConfigError, describeError } from '../lifecycle/errors.js';
import { drainBudgetSeconds } from '../lifecycle/timeBudget.js';
import { silentLogger } from '../observability/logger.js';
import { Metrics } from '../observability/metrics.js';
import { commandSignal, printLines, runAwsCommand } from './commandSupport.js';
import { intFrom } from './flagValues.js';
import { SERVE_FLAGS } from './serveFlags.js';

const DOCTOR_TIMEOUT_MS = 2 * 60_000;
const SERVICE_ACCOUNT_NAMESPACE_FILE = '/var/run/secrets/kubernetes.io/serviceaccount/namespace';
const OUTPUTS = ['table', 'json'] as const;
type Output = (typeof OUTPUTS)[number];

/**
 * What `doctor` runs: gather the facts, evaluate every check, print the table (or JSON); with --node, the drain plan
 * for that Node too (only that without --queue-name). Exit 1 when a check failed or the plan has problems.
 */
export async function doctorAction(options: Record<string, string | string[] | undefined>, env: Readonly<Record<string, string | undefined>>): Promise<void> {
  const str = (key: string): string | undefined => options[key] as string | undefined;
  const output = str('output') ?? 'table';
  const outputProblem = (OUTPUTS as readonly string[]).includes(output) ? [] : [`--output must be ${OUTPUTS.join(' or ')}, got "${output}"`];
  const nodeName = str('node');
  if (nodeName && !str('queueName')) {
    if (outputProblem.length > 0) throw new ConfigError(outputProblem);
    const plan = await readNodePlan(nodeName, str, env);
    if (output === 'json') printLines([JSON.stringify(jsonNodePlan(plan))]);
    else printLines(renderNodePlan(plan));
    failOnProblems(plan, output as Output);
    return;
  }
  let settings: ReturnType<typeof validateDoctorFlags>;
  try {
    settings = validateDoctorFlags({
      region: str('region'), queueName: str('queueName'), targetScalingGroups: options['targetScalingGroups'] as string[],
      hookName: str('hookName'), defaultResult: str('defaultResult'), principalArn: str('principalArn'), localMode: str('localMode'),
      leaseNamespace: str('leaseNamespace') || defaultLeaseNamespace(env),
      drainTimeout: str('drainTimeout'), drainRetries: str('drainRetries'), drainInterval: str('drainInterval'),
      maxTerminationGracePeriod: str('maxTerminationGracePeriod'), maxTimeToProcess: str('maxTimeToProcess'),
      visibilityTimeout: str('visibilityTimeout'), pollingInterval: str('pollingInterval'),
      withDeregister: str('withDeregister'), deregisterTargetTypes: str('deregisterTargetTypes'),
      nodeJoinTimeout: str('nodeJoinTimeout'), deregistrationTimeout: str('deregistrationTimeout'), volumeDetachTimeout: str('volumeDetachTimeout'),
      clusterName: str('clusterName'),
      launchHooks: str('launchHooks'), launchTimeout: str('launchTimeout'), launchHookName: str('launchHookName'),
    } satisfies DoctorFlags, env);
  } catch (e) {
    // Every problem at once, --output's among them.
    if (e instanceof ConfigError) throw new ConfigError([...outputProblem, ...e.problems]);
    throw e;
  }
  if (outputProblem.length > 0) throw new ConfigError(outputProblem);
  let results: ReturnType<typeof evaluateInstallation> = [];
  await runAwsCommand({ name: 'doctor', region: settings.region, timeoutMs: DOCTOR_TIMEOUT_MS, rerunSafe: false }, async (aws, signal) => {
    const deps: DoctorDeps = { aws, simulator: aws.simulator, reviewer: accessReviewer(settings.localMode, env) };
    results = evaluateInstallation(settings, await gatherFacts(settings, deps, signal));
  });
  const failed = results.some((r) => r.status === 'fail');
  // As in the table, the plan is read only once the installation passed: a failing installation is fixed first.
  const plan = nodeName && !failed ? await readNodePlan(nodeName, str, env) : undefined;
  if (output === 'json') printLines([JSON.stringify({ ...jsonReport(results), ...(plan ? { nodePlan: jsonNodePlan(plan) } : {}) })]);
  else printLines([...renderReport(results), ...(plan ? renderNodePlan(plan) : [])]);
  if (failed) throw new ConfigError([`doctor: ${summarize(results)}${output === 'json' ? '' : '; see the fixes above'}`]);
  if (plan) failOnProblems(plan, output as Output);
}

function failOnProblems(plan: DrainPlan, output: Output): void {
  if (plan.blockers.length > 0) throw new ConfigError([`doctor: node ${plan.nodeName}: ${plan.blockers.length} drain plan problems${output === 'json' ? '' : '; see above'}`]);
}

/** `doctor --node NAME`: the drain plan a termination of that node's instance would start with now. */
async function readNodePlan(nodeName: string, str: (key: string) => string | undefined, env: Readonly<Record<string, string | undefined>>): Promise<DrainPlan> {
  const problems: string[] = [];
  // serve's bounds and defaults for these flags (SERVE_FLAGS), so doctor accepts exactly what serve does.
  const int = (name: string, key: string): number => {
    const flag = SERVE_FLAGS.find((f) => f.name === name)!;
    return intFrom(name, str(key) ?? flag.defaultValue, flag.min ?? 0, flag.max ?? Number.MAX_SAFE_INTEGER, problems);
  };
  const budget = {
    drainTimeoutSeconds: int('drain-timeout', 'drainTimeout'),
    drainRetries: int('drain-retries', 'drainRetries'),
    drainIntervalSeconds: int('drain-interval', 'drainInterval'),
    maxTerminationGracePeriodSeconds: int('max-termination-grace-period', 'maxTerminationGracePeriod'),
  };
  if (problems.length > 0) throw new ConfigError(problems);
  const localMode = str('localMode') ?? '';
  let kc: k8s.KubeConfig;
  try {
    kc = loadKubeConfig(localMode, env);
  } catch (e) {
    throw new ConfigError([`${localMode ? `--local-mode: cannot load kubeconfig ${localMode}` : 'cannot load the kubeconfig'}: ${describeError(e)}`]);
  }
  const cluster = new KubeCluster(createKubeClients(kc, new Metrics({ defaultMetrics: false })));
  const { signal, dispose } = commandSignal(DOCTOR_TIMEOUT_MS);
  try {
    if (!(await cluster.getNode(nodeName, signal))) throw new ConfigError([`doctor: node ${nodeName} does not exist`]);
    return await new DrainPlanner(cluster).plan(nodeName, drainBudgetSeconds({ ...budget, nodeJoinTimeoutSeconds: 0, deregistrationTimeoutSeconds: 0, volumeDetachTimeoutSeconds: 0 }) || undefined, silentLogger, signal);
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
  let identity = 'the in-cluster service account';
  try {
    const kc = loadKubeConfig(localMode, env);
    if (localMode || !env['KUBERNETES_SERVICE_HOST']) identity = `kubeconfig context '${kc.getCurrentContext()}'`;
    return new SelfAccessReviewer(createKubeClients(kc, new Metrics({ defaultMetrics: false })), identity);
  } catch (e) {
    return { unavailable: `cannot load a kubeconfig: ${describeError(e)}`, identity };
  }
}
