#!/usr/bin/env node
import { setMaxListeners } from 'node:events';
import { Command, Option } from 'commander';
import { ConfigError, MissingPermissionsError, QueueNotFoundError, describeError, isAccessDenied } from '../lifecycle/errors.js';
import { readBuildInfo } from './buildInfo.js';
import { registerDoctor } from './doctor.js';
import { registerEnroll } from './enroll.js';
import { runServe } from './serve.js';
import { validateServeConfig } from './serveConfig.js';
import { SERVE_FLAGS, attributeName, envVarName } from './serveFlags.js';
import { registerUnenroll } from './unenroll.js';

/** Builds the command tree. Exported so tests can render `--help` and compare it with the README. */
export function buildProgram(env: Readonly<Record<string, string | undefined>> = process.env): Command {
  const program = new Command('lifecycle-manager')
    .description('lifecycle-manager makes AWS scaling event on Kubernetes graceful using lifecycle hooks')
    .showHelpAfterError()
    .configureOutput({ outputError: (text, write) => write(text) });

  const serve = program.command('serve')
    .summary('start the lifecycle-manager service')
    .description('Start watching lifecycle events for a given queue. Every flag can also be set through the environment variable shown beside it; a flag beats its variable.');
  for (const flag of SERVE_FLAGS) {
    const value = flag.kind === 'bool' ? '[bool]' : flag.kind === 'int' ? '<int>' : flag.kind === 'list' ? '<list>' : '<string>';
    const option = new Option(`--${flag.name} ${value}`, flag.description).env(envVarName(flag.name)).default(flag.defaultValue);
    if (flag.kind === 'bool') option.preset('true');
    serve.addOption(option);
  }
  serve.action(async (_options: unknown, command: Command) => {
    const raw = command.opts<Record<string, string>>();
    const explicitlySet = new Set(SERVE_FLAGS.map((f) => f.name).filter((n) => {
      const source = command.getOptionValueSource(attributeName(n));
      return source === 'cli' || source === 'env';
    }));
    const config = validateServeConfig(raw, env, explicitlySet);
    const controller = new AbortController();
    // Every action in flight listens for shutdown: hundreds of listeners are expected, not a leak.
    setMaxListeners(0, controller.signal);
    const stop = (signal: NodeJS.Signals): void => {
      if (controller.signal.aborted) return;
      controller.abort(Object.assign(new Error(`received ${signal}`), { name: 'AbortError' }));
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
    await runServe(config, readBuildInfo(), { env, shutdown: controller.signal });
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
  return program;
}

/** Expected failures print one clear line each and exit 1; only the unexpected get a stack trace. */
export async function main(argv: readonly string[]): Promise<number> {
  try {
    await buildProgram().parseAsync([...argv]);
    return 0;
  } catch (e) {
    if (e instanceof ConfigError || e instanceof MissingPermissionsError) {
      for (const problem of e.problems) process.stderr.write(`lifecycle-manager: ${problem}\n`);
    } else if (e instanceof QueueNotFoundError || isAccessDenied(e)) {
      process.stderr.write(`lifecycle-manager: ${describeError(e)}\n`);
    } else if ((e as { code?: unknown })?.code === 'EADDRINUSE') {
      process.stderr.write(`lifecycle-manager: cannot listen: ${describeError(e)}\n`);
    } else {
      process.stderr.write(`lifecycle-manager: unexpected error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    }
    return 1;
  }
}

main(process.argv).then((code) => process.exit(code), () => process.exit(1));
