import { readFileSync } from 'node:fs';
import * as k8s from '@kubernetes/client-node';
import { evaluateInstallation } from '../doctor/checks.js';
import { type DoctorFlags, validateDoctorFlags } from '../doctor/doctorSettings.js';
import { type DoctorDeps, gatherFacts } from '../doctor/facts.js';
import { renderJsonReport, renderReport, summarize } from '../doctor/report.js';
import { SelfAccessReviewer } from '../kube/accessReview.js';
import { createKubeClients } from '../kube/apiClients.js';
import { ConfigError, describeError } from '../lifecycle/errors.js';
import { Metrics } from '../observability/metrics.js';
import { printLines, runAwsCommand } from './commandSupport.js';

const DOCTOR_TIMEOUT_MS = 2 * 60_000;
const SERVICE_ACCOUNT_NAMESPACE_FILE = '/var/run/secrets/kubernetes.io/serviceaccount/namespace';
const OUTPUTS = ['table', 'json'] as const;

/** What `doctor` runs: gather the facts, evaluate every check, print the table (or JSON); exit 1 when one failed. */
export async function doctorAction(options: Record<string, string | string[] | undefined>, env: Readonly<Record<string, string | undefined>>): Promise<void> {
  const str = (key: string): string | undefined => options[key] as string | undefined;
  const output = str('output') ?? 'table';
  const outputProblem = (OUTPUTS as readonly string[]).includes(output) ? [] : [`--output must be ${OUTPUTS.join(' or ')}, got "${output}"`];
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
      nodeJoinTimeout: str('nodeJoinTimeout'), deregistrationTimeout: str('deregistrationTimeout'), clusterName: str('clusterName'),
    } satisfies DoctorFlags, env);
  } catch (e) {
    // Every problem at once, --output's among them.
    if (e instanceof ConfigError) throw new ConfigError([...outputProblem, ...e.problems]);
    throw e;
  }
  if (outputProblem.length > 0) throw new ConfigError(outputProblem);
  await runAwsCommand({ name: 'doctor', region: settings.region, timeoutMs: DOCTOR_TIMEOUT_MS, rerunSafe: false }, async (aws, signal) => {
    const deps: DoctorDeps = { aws, simulator: aws.simulator, reviewer: accessReviewer(settings.localMode, env) };
    const results = evaluateInstallation(settings, await gatherFacts(settings, deps, signal));
    if (output === 'json') printLines([renderJsonReport(results)]);
    else printLines(renderReport(results));
    if (results.some((r) => r.status === 'fail')) throw new ConfigError([`doctor: ${summarize(results)}${output === 'json' ? '' : '; see the fixes above'}`]);
  });
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
