import type { Command } from 'commander';
import { boolOption, collect } from './options.js';

/** `enroll`: creates the notification role, the queue (with a dead-letter queue) and a termination hook per group. */
export function registerEnroll(program: Command, env: Readonly<Record<string, string | undefined>>): void {
  program.command('enroll')
    .summary('creates an SQS queue and enrolls ASGs to send hooks to it')
    .description([
      'Creates (or reuses) the IAM role Auto Scaling assumes to notify SQS, the SQS queue with a dead-letter queue',
      '(<queue>-dlq, redrive after 5 receives), SSE-SQS encryption and a 60s visibility timeout, and a termination',
      'lifecycle hook on each Auto Scaling group. Re-running it is safe: what already exists is reported and kept;',
      'what differs is updated only with --overwrite. Ends with the queue URL and the serve command to run.',
    ].join(' '))
    .option('--region <string>', 'AWS region of the queue and the Auto Scaling groups; falls back to $AWS_REGION')
    .option('--queue-name <string>', 'name of the SQS queue to create or reuse (required)')
    .option('--notification-role-name <string>', 'name of the IAM role Auto Scaling assumes to publish to the queue (required)')
    .option('--target-scaling-groups <list>', 'comma separated Auto Scaling group names to enroll; repeatable (required)', collect)
    .option('--heartbeat-timeout <int>', 'the hook\'s HeartbeatTimeout in seconds (30-7200); serve heartbeats every half of it', '300')
    .option('--default-result <string>', 'what AWS does when the hook times out (serve down, nobody heartbeats): CONTINUE lets the group\'s other termination hooks still run; ABANDON skips them. The instance terminates either way.', 'CONTINUE')
    .option('--hook-name <string>', 'name of the lifecycle hook', 'lifecycle-manager')
    .option('--cluster-name <string>', 'the queue is shared between clusters and these groups belong to this one (serve --cluster-name): the redrive policy\'s maxReceiveCount is sized for every cluster whose hooks notify the queue, since each receive by another cluster counts')
    .option('--tags <key=value,...>', 'tags for the role and queues it creates, besides managed-by=lifecycle-manager; repeatable', collect)
    .addOption(boolOption('--overwrite', 'update resources if they already exist and differ (role trust policy and tags, queue attributes and tags, hooks)'))
    .addOption(boolOption('--dry-run', 'print what would be created or changed, and change nothing'))
    .option('--log-level <string>', 'debug, info, warn or error', 'info')
    .action(async (options: Record<string, string | string[] | undefined>) => {
      const { enrollAction } = await import('./enrollAction.js');
      await enrollAction(options, env);
    });
}
