import { ConfigError, describeError } from '../lifecycle/errors.js';
import { type Logger, createLogger, toLogLevel } from '../observability/logger.js';
import { routeProcessWarnings } from '../observability/processWarnings.js';
import { type AdminAws, createAdminAws } from './adminAwsClients.js';

export function commandLogger(level: string | undefined): Logger {
  const parsed = toLogLevel(level ?? 'info');
  if (!parsed) throw new ConfigError([`--log-level must be one of debug, info, warn, warning, error, got "${level}"`]);
  const log = createLogger({ level: parsed, format: 'text' });
  routeProcessWarnings(log);
  return log;
}

/**
 * The signal a one-shot command runs under: aborted on SIGINT/SIGTERM or after `timeoutMs`. Call dispose() when
 * the command ends.
 */
export function commandSignal(timeoutMs: number): { signal: AbortSignal; dispose: () => void } {
  const controller = new AbortController();
  const stop = (signal: NodeJS.Signals): void => controller.abort(Object.assign(new Error(`received ${signal}`), { name: 'AbortError' }));
  const timer = setTimeout(() => controller.abort(Object.assign(new Error(`gave up after ${Math.round(timeoutMs / 1000)}s`), { name: 'TimeoutError' })), timeoutMs);
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  return {
    signal: controller.signal,
    dispose: () => {
      clearTimeout(timer);
      process.removeListener('SIGINT', stop);
      process.removeListener('SIGTERM', stop);
    },
  };
}

/** Writes lines to stdout (results a user copies or a script reads; logs go to stderr). */
export function printLines(lines: readonly string[]): void {
  if (lines.length > 0) process.stdout.write(`${lines.join('\n')}\n`);
}

/**
 * Runs a one-shot AWS command (enroll, unenroll, doctor): builds its clients, gives it a signal bounded by
 * `timeoutMs` and SIGINT/SIGTERM, turns an abort into one clear line, and always releases the clients (logging the
 * number of AWS calls at debug level).
 */
export async function runAwsCommand(
  command: { name: string; region: string; timeoutMs: number; log?: Logger; rerunSafe: boolean },
  work: (aws: AdminAws, signal: AbortSignal) => Promise<void>,
): Promise<void> {
  const aws = createAdminAws(command.region);
  const { signal, dispose } = commandSignal(command.timeoutMs);
  try {
    await work(aws, signal);
  } catch (e) {
    if (signal.aborted) throw new ConfigError([`${command.name} stopped: ${describeError(signal.reason)}${command.rerunSafe ? '; re-running it is safe' : ''}`]);
    throw e;
  } finally {
    command.log?.debug(`AWS calls: ${await aws.callCount()}`);
    aws.destroy();
    dispose();
  }
}
