import { existsSync } from 'node:fs';
import { defaultResultFrom, boolFrom, groupNamesFrom, hookNameFrom, intFrom, queueNameFrom, regionFrom, type Env } from '../enrollment/flagRules.js';
import { ConfigError } from '../lifecycle/errors.js';
import { SERVE_FLAGS } from '../cli/serveFlags.js';
import type { TimeBudgetSettings } from '../lifecycle/timeBudget.js';

/** The serve flags that bound how long one termination can take. */
export interface DrainSettings extends TimeBudgetSettings {
  readonly maxTimeToProcessSeconds: number;
}

/** doctor's own flags plus the serve flags that decide whether an installation fits (same names, same defaults). */
export interface DoctorFlags {
  readonly region?: string;
  readonly queueName?: string;
  readonly targetScalingGroups?: readonly string[];
  readonly hookName?: string;
  readonly defaultResult?: string;
  readonly principalArn?: string;
  readonly localMode?: string;
  /** Already resolved like serve resolves it (flag, $POD_NAMESPACE, the service account's namespace, lifecycle-manager). */
  readonly leaseNamespace?: string;
  readonly drainTimeout?: string;
  readonly drainRetries?: string;
  readonly drainInterval?: string;
  readonly maxTerminationGracePeriod?: string;
  readonly maxTimeToProcess?: string;
  readonly visibilityTimeout?: string;
  readonly pollingInterval?: string;
  readonly withDeregister?: string | boolean;
  readonly deregisterTargetTypes?: string;
  readonly nodeJoinTimeout?: string;
  readonly deregistrationTimeout?: string;
  readonly volumeDetachTimeout?: string;
  /** serve's --cluster-name: the queue is shared, and its redrive policy must survive the clusters sharing it. */
  readonly clusterName?: string;
  /** serve's --launch-hooks and --launch-timeout, and the launch hook's name (enroll --launch-hook-name). */
  readonly launchHooks?: string | boolean;
  readonly launchTimeout?: string;
  readonly launchHookName?: string;
}

/** With serve --launch-hooks: the launch hook each group should have, and how long serve waits for a Node. */
export interface LaunchHookSettings {
  readonly hookName: string;
  readonly timeoutSeconds: number;
}

export interface DoctorSettings {
  readonly region: string;
  readonly queueName: string;
  /** Empty: find every group whose hook notifies the queue. */
  readonly groupNames: readonly string[];
  readonly hookName: string;
  readonly expectedDefaultResult: 'CONTINUE' | 'ABANDON';
  /** The IAM principal serve runs as; undefined: the identity running doctor. */
  readonly principalArn: string | undefined;
  readonly localMode: string;
  /** Where serve keeps its Leases, per action and per replica (the Lease permissions are checked there). */
  readonly leaseNamespace: string;
  readonly drain: DrainSettings;
  readonly visibilityTimeoutSeconds: number;
  readonly pollingIntervalSeconds: number;
  readonly withDeregister: boolean;
  readonly deregisterTargetTypes: readonly string[];
  readonly clusterName: string | undefined;
  /** undefined without --launch-hooks: launch hooks are not checked. */
  readonly launch: LaunchHookSettings | undefined;
}

export function validateDoctorFlags(flags: DoctorFlags, env: Env): DoctorSettings {
  const problems: string[] = [];
  const localMode = flags.localMode?.trim() ?? '';
  if (localMode && !existsSync(localMode)) problems.push(`--local-mode: provided kubeconfig path does not exist: ${localMode}`);
  const principalArn = flags.principalArn?.trim() || undefined;
  if (principalArn && !/^arn:aws[a-z-]*:(iam|sts)::\d{12}:.+/u.test(principalArn)) problems.push(`--principal-arn must be an IAM user or role ARN, got "${principalArn}"`);
  const leaseNamespace = flags.leaseNamespace?.trim() || 'lifecycle-manager';
  if (!/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/u.test(leaseNamespace)) problems.push(`--lease-namespace must be a Kubernetes namespace name, got "${leaseNamespace}"`);
  const types = (flags.deregisterTargetTypes ?? serveDefault('deregister-target-types')).split(',').map((t) => t.trim()).filter(Boolean);
  const unknown = types.filter((t) => t !== 'classic-elb' && t !== 'target-group');
  if (unknown.length > 0) problems.push(`--deregister-target-types accepts classic-elb, target-group; unknown: ${unknown.join(', ')}`);
  const max = 172_800;
  const withDeregister = boolFrom('with-deregister', flags.withDeregister ?? serveDefault('with-deregister'), problems);
  const clusterName = flags.clusterName?.trim() || undefined;
  const settings: DoctorSettings = {
    region: regionFrom(flags.region, env, problems),
    queueName: queueNameFrom(flags.queueName, problems),
    groupNames: groupNamesFrom(flags.targetScalingGroups, problems, false),
    hookName: hookNameFrom(flags.hookName ?? 'lifecycle-manager', problems),
    expectedDefaultResult: defaultResultFrom('default-result', flags.defaultResult ?? 'CONTINUE', problems),
    principalArn,
    localMode,
    leaseNamespace,
    drain: {
      drainTimeoutSeconds: intFrom('drain-timeout', flags.drainTimeout ?? serveDefault('drain-timeout'), 0, max, problems),
      drainRetries: intFrom('drain-retries', flags.drainRetries ?? serveDefault('drain-retries'), 1, max, problems),
      drainIntervalSeconds: intFrom('drain-interval', flags.drainInterval ?? serveDefault('drain-interval'), 0, max, problems),
      maxTerminationGracePeriodSeconds: intFrom('max-termination-grace-period', flags.maxTerminationGracePeriod ?? serveDefault('max-termination-grace-period'), 0, max, problems),
      maxTimeToProcessSeconds: intFrom('max-time-to-process', flags.maxTimeToProcess ?? serveDefault('max-time-to-process'), 1, max, problems),
      nodeJoinTimeoutSeconds: intFrom('node-join-timeout', flags.nodeJoinTimeout ?? serveDefault('node-join-timeout'), 0, max, problems),
      deregistrationTimeoutSeconds: withDeregister
        ? intFrom('deregistration-timeout', flags.deregistrationTimeout ?? serveDefault('deregistration-timeout'), 0, max, problems) : 0,
      volumeDetachTimeoutSeconds: intFrom('volume-detach-timeout', flags.volumeDetachTimeout ?? serveDefault('volume-detach-timeout'), 0, max, problems),
    },
    visibilityTimeoutSeconds: intFrom('visibility-timeout', flags.visibilityTimeout ?? serveDefault('visibility-timeout'), 10, 43200, problems),
    pollingIntervalSeconds: intFrom('polling-interval', flags.pollingInterval ?? serveDefault('polling-interval'), 0, 20, problems),
    withDeregister,
    deregisterTargetTypes: [...new Set(types)],
    clusterName,
    launch: boolFrom('launch-hooks', flags.launchHooks ?? serveDefault('launch-hooks'), problems)
      ? {
        hookName: hookNameFrom(flags.launchHookName ?? 'lifecycle-manager-launch', problems),
        timeoutSeconds: intFrom('launch-timeout', flags.launchTimeout ?? serveDefault('launch-timeout'), 1, max, problems),
      }
      : undefined,
  };
  if (problems.length > 0) throw new ConfigError(problems);
  return settings;
}

/** serve's own default for a flag doctor shares with it, so the two can never disagree. */
function serveDefault(flag: string): string {
  const spec = SERVE_FLAGS.find((f) => f.name === flag);
  if (!spec) throw new Error(`doctor refers to unknown serve flag --${flag}`);
  return spec.defaultValue;
}
