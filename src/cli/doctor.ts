import type { Command } from 'commander';
import { collect, serveFlagOption } from './options.js';
import { SERVE_FLAGS } from './serveFlags.js';

/** serve's flags that decide whether an installation fits; doctor takes them with serve's names and defaults. */
export const SERVE_FLAGS_CHECKED = ['local-mode', 'lease-namespace', 'drain-timeout', 'drain-retries', 'drain-interval', 'max-termination-grace-period', 'max-time-to-process', 'node-join-timeout', 'deregistration-timeout', 'volume-detach-timeout', 'visibility-timeout', 'polling-interval', 'with-deregister', 'deregister-target-types', 'cluster-name'];

/** `doctor`: checks a running or planned installation and prints a ✓/✗ table with a fix for each ✗. */
export function registerDoctor(program: Command, env: Readonly<Record<string, string | undefined>>): void {
  const doctor = program.command('doctor')
    .summary('checks an installation: queue, hooks, timeouts, IAM and RBAC; prints a fix for each problem')
    .description([
      'Checks a running or planned installation and prints one row per check (✓ passed, ✗ failed with its fix,',
      '– skipped with the reason); exits 1 when any check failed. It checks: the queue is reachable; its',
      'dead-letter queue; that a crashed replica\'s message comes back before a hook can expire; each hook\'s target,',
      'HeartbeatTimeout and DefaultResult against the drain budget of the serve flags given here; the IAM',
      'permissions serve needs (iam:SimulatePrincipalPolicy, skipped where unavailable); and every Kubernetes',
      'permission serve uses (SelfSubjectAccessReview, as the identity of --local-mode or the in-cluster account).',
    ].join(' '))
    .option('--region <string>', 'AWS region of the queue and the Auto Scaling groups; falls back to $AWS_REGION')
    .option('--queue-name <string>', 'name of the SQS queue serve consumes (required)')
    .option('--target-scaling-groups <list>', 'comma separated groups that should be enrolled; default: every group with a hook notifying the queue', collect)
    .option('--hook-name <string>', 'name of the lifecycle hook', 'lifecycle-manager')
    .option('--default-result <string>', 'the DefaultResult the hooks should have (CONTINUE or ABANDON)', 'CONTINUE')
    .option('--principal-arn <string>', 'ARN of the IAM role or user serve runs as (e.g. its IRSA role); default: the identity running doctor')
    .option('--node <name>', 'also print the drain plan for this Node now (its pods by eviction tier; PodDisruptionBudgets allowing no disruption, grace periods longer than the drain budget, pods without a controller, emptyDir data), failing when it has problems; without --queue-name only that is checked')
    .option('--output <format>', 'table (one row per check, for people) or json (one object with every check, and the drain plan with --node, on stdout, for scripts)', 'table');
  for (const name of SERVE_FLAGS_CHECKED) {
    const flag = SERVE_FLAGS.find((f) => f.name === name);
    if (!flag) continue;
    doctor.addOption(serveFlagOption(flag, `(serve) ${flag.description}`));
  }
  doctor.action(async (options: Record<string, string | string[] | undefined>) => {
    const { doctorAction } = await import('./doctorAction.js');
    await doctorAction(options, env);
  });
}
