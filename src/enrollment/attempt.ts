import { AccessDeniedError, ConfigError, RequestRejectedError, TransientError, describeError } from '../lifecycle/errors.js';

/** An AWS failure the user can act on (denied, rejected, or still failing after the SDK's retries). */
export function isAwsFailure(e: unknown): boolean {
  return e instanceof AccessDeniedError || e instanceof RequestRejectedError || e instanceof TransientError;
}

/**
 * Runs one AWS step; an AWS failure becomes a ConfigError whose single line says what failed and why (printed
 * without a stack trace), with `after` lines added (e.g. what had already been created). Anything else propagates.
 */
export async function attempt<T>(what: string, step: () => Promise<T>, after: () => readonly string[] = () => []): Promise<T> {
  try {
    return await step();
  } catch (e) {
    if (isAwsFailure(e)) throw new ConfigError([`${what}: ${describeError(e)}`, ...after()]);
    throw e;
  }
}
