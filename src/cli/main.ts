#!/usr/bin/env node
import { CommanderError } from 'commander';
import { createLogger } from '../observability/logger.js';
import { routeProcessWarnings } from '../observability/processWarnings.js';
import { EXIT_OK, EXIT_USAGE, fatalFormat, jsonLogsRequested, reportFailure, setFatalFormat } from './failures.js';
import { buildProgram } from './program.js';

/**
 * Runs one command. Usage errors print one line and a hint to --help and exit 2; expected failures print one clear
 * line each and exit 1; only the unexpected get a stack trace. With serve's JSON logs every line is JSON.
 */
export async function main(argv: readonly string[], env: Readonly<Record<string, string | undefined>> = process.env): Promise<number> {
  setFatalFormat(jsonLogsRequested(argv, env) ? 'json' : 'text');
  // Until a command sets up its own logger, Node.js and library warnings are log lines, not free text.
  routeProcessWarnings(createLogger({ level: 'info', format: fatalFormat() }));
  try {
    await buildProgram(env).parseAsync([...argv]);
    return EXIT_OK;
  } catch (e) {
    if (e instanceof CommanderError) {
      // --help, --version (0), or help shown because no command was given (a usage error).
      return e.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
    }
    return reportFailure(e, fatalFormat());
  }
}

process.on('uncaughtException', (e) => {
  process.exitCode = reportFailure(e, fatalFormat());
  process.exit();
});

main(process.argv).then((code) => process.exit(code), (e: unknown) => process.exit(reportFailure(e, fatalFormat())));
