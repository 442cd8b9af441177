import type { Command } from 'commander';
import { boolOption, collect } from './options.js';

/** `unenroll`: removes the hook from the named groups; deleting the queue and the role is opt-in. */
export function registerUnenroll(program: Command, env: Readonly<Record<string, string | undefined>>): void {
  program.command('unenroll')
    .summary('removes the lifecycle hook from ASGs; optionally deletes the queue and the role')
    .description([
      'Removes the lifecycle hook from each named Auto Scaling group (with --queue-name, only a hook that notifies',
      'that queue). --delete-queue also deletes the queue and its <queue>-dlq; --delete-role deletes the',
      'notification role. Re-running it is safe: what is already gone is reported, not an error.',
    ].join(' '))
    .option('--region <string>', 'AWS region of the queue and the Auto Scaling groups; falls back to $AWS_REGION')
    .option('--target-scaling-groups <list>', 'comma separated Auto Scaling group names to unenroll; repeatable', collect)
    .option('--hook-name <string>', 'name of the lifecycle hook', 'lifecycle-manager')
    .option('--queue-name <string>', 'the queue the hooks notify (hooks notifying another queue are left alone); required with --delete-queue')
    .option('--notification-role-name <string>', 'the notification role; required with --delete-role')
    .addOption(boolOption('--delete-queue', 'also delete the queue and its dead-letter queue (messages in them are lost)'))
    .addOption(boolOption('--delete-role', 'also delete the notification role (only when no other policy is attached to it)'))
    .addOption(boolOption('--dry-run', 'print what would be removed, and remove nothing'))
    .option('--log-level <string>', 'debug, info, warn or error', 'info')
    .action(async (options: Record<string, string | string[] | undefined>) => {
      const { unenrollAction } = await import('./unenrollAction.js');
      await unenrollAction(options, env);
    });
}
