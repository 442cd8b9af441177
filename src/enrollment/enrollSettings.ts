import { ConfigError } from '../lifecycle/errors.js';
import { type Env, boolFrom, clusterNameFrom, defaultResultFrom, groupNamesFrom, hookNameFrom, intFrom, queueNameFrom, regionFrom, roleNameFrom, tagsFrom } from './flagRules.js';
import type { Tags } from './ports.js';

/** AWS's bounds for a lifecycle hook's HeartbeatTimeout. */
export const MIN_HEARTBEAT_TIMEOUT_SECONDS = 30;
export const MAX_HEARTBEAT_TIMEOUT_SECONDS = 7200;

/** The flags of `enroll` as commander hands them over (strings, repeatable lists, booleans). */
export interface EnrollFlags {
  readonly region?: string;
  readonly queueName?: string;
  readonly notificationRoleName?: string;
  readonly targetScalingGroups?: readonly string[];
  readonly heartbeatTimeout?: string;
  readonly defaultResult?: string;
  readonly hookName?: string;
  readonly tags?: readonly string[];
  readonly overwrite?: string | boolean;
  readonly dryRun?: string | boolean;
  readonly clusterName?: string;
  readonly launchHook?: string | boolean;
  readonly launchHookName?: string;
}

/** The validated `enroll` request. */
export interface EnrollSettings {
  readonly region: string;
  readonly queueName: string;
  readonly roleName: string;
  readonly groupNames: readonly string[];
  readonly heartbeatTimeoutSeconds: number;
  readonly defaultResult: 'CONTINUE' | 'ABANDON';
  readonly hookName: string;
  /** The user's --tags (managed-by is added when resources are created). */
  readonly tags: Tags;
  readonly overwrite: boolean;
  readonly dryRun: boolean;
  /** The queue is shared between clusters (serve --cluster-name): its redrive policy is sized for them. */
  readonly clusterName: string | undefined;
  /** --launch-hook: the name of the launch hook to put on each group as well (serve --launch-hooks); undefined without. */
  readonly launchHookName: string | undefined;
}

/** A launch hook's DefaultResult: with serve down, launches go on as if no hook were there (ABANDON would stop all scale-out). */
export const LAUNCH_HOOK_DEFAULT_RESULT = 'CONTINUE';

/** Validates every flag at once; throws a ConfigError listing each problem. */
export function validateEnrollFlags(flags: EnrollFlags, env: Env): EnrollSettings {
  const problems: string[] = [];
  const settings: EnrollSettings = {
    region: regionFrom(flags.region, env, problems),
    queueName: queueNameFrom(flags.queueName, problems),
    roleName: roleNameFrom(flags.notificationRoleName, problems),
    groupNames: groupNamesFrom(flags.targetScalingGroups, problems),
    heartbeatTimeoutSeconds: intFrom('heartbeat-timeout', flags.heartbeatTimeout ?? '300', MIN_HEARTBEAT_TIMEOUT_SECONDS, MAX_HEARTBEAT_TIMEOUT_SECONDS, problems),
    defaultResult: defaultResultFrom('default-result', flags.defaultResult ?? 'CONTINUE', problems),
    hookName: hookNameFrom(flags.hookName ?? 'lifecycle-manager', problems),
    tags: tagsFrom(flags.tags, problems),
    overwrite: boolFrom('overwrite', flags.overwrite ?? false, problems),
    dryRun: boolFrom('dry-run', flags.dryRun ?? false, problems),
    clusterName: clusterNameFrom(flags.clusterName, problems),
    launchHookName: boolFrom('launch-hook', flags.launchHook ?? false, problems)
      ? hookNameFrom(flags.launchHookName ?? 'lifecycle-manager-launch', problems) : undefined,
  };
  if (settings.launchHookName !== undefined && settings.launchHookName === settings.hookName) {
    problems.push(`--launch-hook-name must differ from --hook-name (both are "${settings.hookName}"): a group's hooks are told apart by name`);
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return settings;
}
