import { type Command as CommandType, Command } from 'commander';
import { readBuildInfo } from './buildInfo.js';
import { registerDoctor } from './doctor.js';
import { registerEnroll } from './enroll.js';
import { fromCommanderError } from './failures.js';
import { serveFlagOption } from './options.js';
import { SERVE_FLAGS, envVarName } from './serveFlags.js';
import { registerUnenroll } from './unenroll.js';

/**
 * The command tree. Only definitions live here (commander and plain data): each action imports what it needs when
 * it runs, so `--help`, `--version` and `version` never load the AWS SDK or the Kubernetes client.
 * Exported so tests can render `--help` and compare it with the README.
 */
export function buildProgram(env: Readonly<Record<string, string | undefined>> = process.env): CommandType {
  const program = new Command('lifecycle-manager')
    .description('lifecycle-manager makes AWS scaling event on Kubernetes graceful using lifecycle hooks')
    .version(readBuildInfo().version, '--version', 'print the version and exit')
    // Errors are reported by main() (one line and a hint to --help); commander only reports them to us.
    .configureOutput({ outputError: () => {} });

  const serve = program.command('serve')
    .summary('start the lifecycle-manager service')
    .description('Start watching lifecycle events for a given queue. Every flag can also be set through the environment variable shown beside it; a flag beats its variable.');
  for (const flag of SERVE_FLAGS) serve.addOption(serveFlagOption(flag).env(envVarName(flag.name)));
  serve.action(async (_options: unknown, command: CommandType) => {
    const { serveAction } = await import('./serveAction.js');
    await serveAction(command, env);
  });

  registerEnroll(program, env);
  registerUnenroll(program, env);
  registerDoctor(program, env);

  program.command('version')
    .description('print the version, commit, Node.js version and platform')
    .action(() => {
      const b = readBuildInfo();
      process.stdout.write([
        `Version: ${b.version}`,
        `Git Commit: ${b.commit ?? 'unknown'}`,
        `Build Date: ${b.buildDate ?? 'unknown'}`,
        `Node Version: ${process.version}`,
        `OS / Arch: ${process.platform} ${process.arch}`,
      ].join('\n') + '\n');
    });

  // A usage error in any command becomes one line and a hint to that command's --help (main() prints it, exit 2).
  for (const command of [program, ...program.commands]) {
    const name = command === program ? 'lifecycle-manager' : `lifecycle-manager ${command.name()}`;
    command.exitOverride((e) => {
      throw fromCommanderError(e, `Run '${name} --help' for usage.`) ?? e;
    });
  }
  return program;
}
