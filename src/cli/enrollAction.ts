import { DEFAULT_APPLY_OPTIONS, applyEnrollment } from '../enrollment/apply.js';
import { type EnrollFlags, validateEnrollFlags } from '../enrollment/enrollSettings.js';
import { observeInstallation } from '../enrollment/observe.js';
import { describePlan, planEnrollment } from '../enrollment/plan.js';
import { ConfigError } from '../lifecycle/errors.js';
import { commandLogger, printLines, runAwsCommand } from './commandSupport.js';

const ENROLL_TIMEOUT_MS = 10 * 60_000;

/** What `enroll` runs: validate, observe, plan, then print the plan (--dry-run) or apply it. */
export async function enrollAction(options: Record<string, string | string[] | undefined>, env: Readonly<Record<string, string | undefined>>): Promise<void> {
  const settings = validateEnrollFlags({
    region: options['region'] as string | undefined,
    queueName: options['queueName'] as string | undefined,
    notificationRoleName: options['notificationRoleName'] as string | undefined,
    targetScalingGroups: options['targetScalingGroups'] as string[],
    heartbeatTimeout: options['heartbeatTimeout'] as string,
    defaultResult: options['defaultResult'] as string,
    hookName: options['hookName'] as string,
    tags: options['tags'] as string[],
    overwrite: options['overwrite'] as string,
    dryRun: options['dryRun'] as string,
    clusterName: options['clusterName'] as string | undefined,
  } satisfies EnrollFlags, env);
  const log = commandLogger(options['logLevel'] as string | undefined);
  await runAwsCommand({ name: 'enroll', region: settings.region, timeoutMs: ENROLL_TIMEOUT_MS, log, rerunSafe: true }, async (aws, signal) => {
    const observed = await observeInstallation({ roleName: settings.roleName, queueName: settings.queueName, groupNames: settings.groupNames, hookName: settings.hookName, clusterName: settings.clusterName }, aws, signal);
    const plan = planEnrollment(settings, observed);
    if (settings.dryRun) {
      printLines(describePlan(plan, settings).map((line) => `would ${line}`));
      if (plan.problems.length > 0) throw new ConfigError(plan.problems);
      printLines(['dry run: nothing was created or changed']);
      return;
    }
    const result = await applyEnrollment(plan, settings, aws, log, signal, DEFAULT_APPLY_OPTIONS);
    printLines([
      `Queue Name: ${settings.queueName}`,
      `Queue URL: ${result.queueUrl}`,
      `Dead-letter Queue URL: ${result.deadLetterQueueUrl}`,
      'Run the service with:',
      `  lifecycle-manager serve --region ${settings.region} --queue-name ${settings.queueName}${settings.clusterName ? ` --cluster-name ${settings.clusterName}` : ''}`,
    ]);
  });
}
