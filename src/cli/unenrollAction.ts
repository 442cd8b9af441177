import { runUnenroll } from '../enrollment/unenroll.js';
import { type UnenrollFlags, validateUnenrollFlags } from '../enrollment/unenrollSettings.js';
import { commandLogger, runAwsCommand } from './commandSupport.js';

const UNENROLL_TIMEOUT_MS = 5 * 60_000;

/** What `unenroll` runs. */
export async function unenrollAction(options: Record<string, string | string[] | undefined>, env: Readonly<Record<string, string | undefined>>): Promise<void> {
  const settings = validateUnenrollFlags({
    region: options['region'] as string | undefined,
    targetScalingGroups: options['targetScalingGroups'] as string[],
    hookName: options['hookName'] as string,
    queueName: options['queueName'] as string | undefined,
    notificationRoleName: options['notificationRoleName'] as string | undefined,
    deleteQueue: options['deleteQueue'] as string,
    deleteRole: options['deleteRole'] as string,
    dryRun: options['dryRun'] as string,
  } satisfies UnenrollFlags, env);
  const log = commandLogger(options['logLevel'] as string | undefined);
  await runAwsCommand({ name: 'unenroll', region: settings.region, timeoutMs: UNENROLL_TIMEOUT_MS, log, rerunSafe: true }, async (aws, signal) => { await runUnenroll(settings, aws, log, signal); });
}
