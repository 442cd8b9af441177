import { ConfigError } from '../lifecycle/errors.js';
import { type Env, boolFrom, groupNamesFrom, hookNameFrom, queueNameFrom, regionFrom, roleNameFrom } from './flagRules.js';

export interface UnenrollFlags {
  readonly region?: string;
  readonly queueName?: string;
  readonly notificationRoleName?: string;
  readonly targetScalingGroups?: readonly string[];
  readonly hookName?: string;
  readonly launchHookName?: string;
  readonly deleteQueue?: string | boolean;
  readonly deleteRole?: string | boolean;
  readonly dryRun?: string | boolean;
}

export interface UnenrollSettings {
  readonly region: string;
  readonly groupNames: readonly string[];
  readonly hookName: string;
  /** The launch hook enroll --launch-hook puts; removed too when a group has it. */
  readonly launchHookName: string;
  /** When given, only hooks that notify this queue are removed. */
  readonly queueName: string | undefined;
  readonly roleName: string | undefined;
  readonly deleteQueue: boolean;
  readonly deleteRole: boolean;
  readonly dryRun: boolean;
}

export function validateUnenrollFlags(flags: UnenrollFlags, env: Env): UnenrollSettings {
  const problems: string[] = [];
  const region = regionFrom(flags.region, env, problems);
  const groupNames = groupNamesFrom(flags.targetScalingGroups, problems, false);
  const hookName = hookNameFrom(flags.hookName ?? 'lifecycle-manager', problems);
  const launchHookName = hookNameFrom(flags.launchHookName ?? 'lifecycle-manager-launch', problems);
  const deleteQueue = boolFrom('delete-queue', flags.deleteQueue ?? false, problems);
  const deleteRole = boolFrom('delete-role', flags.deleteRole ?? false, problems);
  const dryRun = boolFrom('dry-run', flags.dryRun ?? false, problems);
  const queueName = flags.queueName?.trim() || deleteQueue ? queueNameFrom(flags.queueName, problems) : undefined;
  const roleName = flags.notificationRoleName?.trim() || deleteRole ? roleNameFrom(flags.notificationRoleName, problems) : undefined;
  if (groupNames.length === 0 && !deleteQueue && !deleteRole) {
    problems.push('nothing to do: give --target-scaling-groups, --delete-queue or --delete-role');
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return { region, groupNames, hookName, launchHookName, queueName: queueName || undefined, roleName: roleName || undefined, deleteQueue, deleteRole, dryRun };
}
