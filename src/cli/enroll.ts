import type { Command } from 'commander';
import { DEFAULT_APPLY_OPTIONS, applyEnrollment } from '../enrollment/apply.js';
import { type EnrollFlags, validateEnrollFlags } from '../enrollment/enrollSettings.js';
import { observeInstallation } from '../enrollment/observe.js';
import { describePlan, planEnrollment } from '../enrollment/plan.js';
import { ConfigError } from '../lifecycle/errors.js';
import { boolOption, collect, commandLogger, printLines, runAwsCommand } from './commandSupport.js';

const ENROLL_TIMEOUT_MS = 10 * 60_000;

/** `enroll`: creates the notification role, the queue (with a dead-letter queue) and a termination hook per group. */
export function registerEnroll(program: Command, env: Readonly<Record<string, string | undefined>>): void {
  program.command('enroll')
    .summary('creates an SQS queue and enrolls ASGs to send hooks to it')
    .description([
      'Creates (or reuses) the IAM role Auto Scaling assumes to notify SQS, the SQS queue with a dead-letter queue',
      '(<queue>-dlq, redrive after 5 receives), SSE-SQS encryption and a 60s visibility timeout, and a termination',
      'lifecycle hook (with --launch-hook, a launch hook too) on each Auto Scaling group. Re-running it is safe: what already exists is reported and kept;',
      'what differs is updated only with --overwrite. Ends with the queue URL and the serve command to run.',
    ].join(' '))
    .option('--region <string>', 'AWS region of the queue and the Auto Scaling groups; falls back to $AWS_REGION')
    .option('--queue-name <string>', 'name of the SQS queue to create or reuse (required)')
    .option('--notification-role-name <string>', 'name of the IAM role Auto Scaling assumes to publish to the queue (required)')
    .option('--target-scaling-groups <list>', 'comma separated Auto Scaling group names to enroll; repeatable (required)', collect)
    .option('--heartbeat-timeout <int>', 'the hook\'s HeartbeatTimeout in seconds (30-7200); serve heartbeats every half of it', '300')
    .option('--default-result <string>', 'what AWS does when the hook times out (serve down, nobody heartbeats): CONTINUE lets the group\'s other termination hooks still run; ABANDON skips them. The instance terminates either way.', 'CONTINUE')
    .option('--hook-name <string>', 'name of the lifecycle hook', 'lifecycle-manager')
    .addOption(boolOption('--launch-hook', 'also put a launch lifecycle hook (autoscaling:EC2_INSTANCE_LAUNCHING, same HeartbeatTimeout, DefaultResult CONTINUE so launches go on if serve is down) on each group, notifying the same queue; run serve with --launch-hooks'))
    .option('--launch-hook-name <string>', 'name of the launch lifecycle hook (with --launch-hook)', 'lifecycle-manager-launch')
    .option('--cluster-name <string>', 'the queue is shared between clusters and these groups belong to this one (serve --cluster-name): the redrive policy\'s maxReceiveCount is sized for every cluster whose hooks notify the queue, since each receive by another cluster counts')
    .option('--tags <key=value,...>', 'tags for the role and queues it creates, besides managed-by=lifecycle-manager; repeatable', collect)
    .addOption(boolOption('--overwrite', 'update resources if they already exist and differ (role trust policy and tags, queue attributes and tags, hooks)'))
    .addOption(boolOption('--dry-run', 'print what would be created or changed, and change nothing'))
    .option('--log-level <string>', 'debug, info, warn or error', 'info')
    .action(async (options: Record<string, string | string[] | undefined>) => {
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
        launchHook: options['launchHook'] as string,
        launchHookName: options['launchHookName'] as string,
      } satisfies EnrollFlags, env);
      const log = commandLogger(options['logLevel'] as string | undefined);
      await runAwsCommand({ name: 'enroll', region: settings.region, timeoutMs: ENROLL_TIMEOUT_MS, log, rerunSafe: true }, async (aws, signal) => {
        const observed = await observeInstallation({ roleName: settings.roleName, queueName: settings.queueName, groupNames: settings.groupNames, hookName: settings.hookName, clusterName: settings.clusterName, launchHookName: settings.launchHookName }, aws, signal);
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
          `  lifecycle-manager serve --region ${settings.region} --queue-name ${settings.queueName}${settings.clusterName ? ` --cluster-name ${settings.clusterName}` : ''}${settings.launchHookName ? ' --launch-hooks' : ''}`,
        ]);
      });
    });
}
