import { CommanderError } from 'commander';
import {
  AccessDeniedError, ConfigError, MissingPermissionsError, QueueNotFoundError, RequestRejectedError, ResourceGoneError, TransientError,
  describeError, isAbort,
} from '../lifecycle/errors.js';
import { type LogFields, type LogFormat, errorFields, formatLine } from '../observability/logger.js';

/** Exit codes: 0 done, 1 a value or startup problem (or a failed check), 2 a usage error (unknown flag or command, missing value). */
export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

let currentFatalFormat: LogFormat = 'text';

/** The format of the process's last words: serve's --log-format once known (JSON mode writes nothing but JSON). */
export function fatalFormat(): LogFormat {
  return currentFatalFormat;
}

export function setFatalFormat(format: LogFormat): void {
  currentFatalFormat = format;
}

/** serve could not start for a reason the user can act on (queue or apiserver unreachable, startup timed out). */
export class StartupError extends Error {
  override readonly name = 'StartupError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** A usage error commander found, already turned into one line and a hint to `--help`. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
  constructor(message: string, readonly hint: string) {
    super(message);
  }
}

/** The domain errors that are expected at startup or in a one-shot command: one line, no stack trace. */
const EXPECTED: readonly (abstract new (...args: never[]) => Error)[] = [
  StartupError, QueueNotFoundError, AccessDeniedError, TransientError, RequestRejectedError, ResourceGoneError,
];

/**
 * How a failure is shown: the lines (without the `lifecycle-manager: ` prefix), their fields in JSON mode, and the
 * exit code. Expected failures are one line each; only the unexpected carry a stack trace (in text) or a `stack`
 * field (in JSON).
 */
export function describeFailure(e: unknown): { lines: string[]; fields: LogFields; exitCode: number; stack?: string } {
  if (e instanceof UsageError) return { lines: [e.message], fields: { hint: e.hint }, exitCode: EXIT_USAGE };
  if (e instanceof ConfigError || e instanceof MissingPermissionsError) return { lines: [...e.problems], fields: {}, exitCode: EXIT_FAILURE };
  if (EXPECTED.some((type) => e instanceof type)) return { lines: [describeError(e)], fields: { error: e }, exitCode: EXIT_FAILURE };
  const code = (e as { code?: unknown } | null)?.code;
  if (code === 'EADDRINUSE' || code === 'EACCES' || code === 'EADDRNOTAVAIL') {
    return { lines: [`cannot listen: ${describeError(e)}`], fields: { error: e }, exitCode: EXIT_FAILURE };
  }
  if (isAbort(e)) return { lines: [`stopped: ${describeError(e)}`], fields: { error: e }, exitCode: EXIT_FAILURE };
  const stack = e instanceof Error ? e.stack : undefined;
  return { lines: [`unexpected error: ${describeError(e)}`], fields: { error: errorFields(e) }, exitCode: EXIT_FAILURE, ...(stack ? { stack } : {}) };
}

/** Writes a failure to stderr, as `lifecycle-manager: …` lines or as JSON log lines (level fatal); returns the exit code. */
export function reportFailure(e: unknown, format: LogFormat, write: (text: string) => void = (t) => process.stderr.write(t)): number {
  const { lines, fields, exitCode, stack } = describeFailure(e);
  if (format === 'json') {
    const now = new Date();
    for (const line of lines) write(`${formatLine('json', now, 'fatal', line, { ...fields, ...(stack ? { stack } : {}) })}\n`);
  } else {
    for (const line of lines) write(`lifecycle-manager: ${line}\n`);
    if (e instanceof UsageError) write(`${e.hint}\n`);
    else if (stack) write(`${stack.split('\n').slice(1).join('\n')}\n`);
  }
  return exitCode;
}

/**
 * A commander error as a UsageError (one line: commander's message with its suggestion, plus a hint to the
 * command's --help), or undefined when commander only showed help or the version (exit 0).
 */
export function fromCommanderError(e: CommanderError, hint: string): UsageError | undefined {
  if (e.exitCode === 0) return undefined;
  const message = e.message.replace(/^error: /u, '').replace(/\s*\n\s*\(Did you mean (.+)\)\s*$/u, ' (did you mean $1)').replace(/\s*\n\s*/gu, ' ');
  return new UsageError(message, hint);
}

/** True when serve's arguments or environment ask for JSON logs, so that even a failure before validation is JSON. */
export function jsonLogsRequested(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): boolean {
  const args = argv.slice(2);
  if (args[0] !== 'serve') return false;
  let value = env['LIFECYCLE_MANAGER_LOG_FORMAT'];
  args.forEach((arg, i) => {
    if (arg === '--log-format') value = args[i + 1];
    else if (arg.startsWith('--log-format=')) value = arg.slice('--log-format='.length);
  });
  return value?.trim() === 'json';
}
