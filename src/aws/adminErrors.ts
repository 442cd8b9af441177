import { RequestRejectedError } from '../lifecycle/errors.js';
import { awsErrorMessage, toDomainError } from './errors.js';

/**
 * Error mapping for the administrative adapters (enroll, unenroll, doctor): throttling, 5xx and network failures
 * become TransientError, credential and permission failures AccessDeniedError, and any other AWS error
 * RequestRejectedError naming the operation and AWS's code — so the CLI can print one line. Non-AWS errors (bugs)
 * and aborts pass through unchanged.
 */
export function toAdminError(e: unknown, operation: string): unknown {
  const mapped = toDomainError(e, operation);
  if (mapped !== e) return mapped;
  if (isAwsServiceError(e)) return new RequestRejectedError(operation, awsErrorMessage(e), { cause: e });
  return e;
}

function isAwsServiceError(e: unknown): boolean {
  return typeof e === 'object' && e !== null && '$metadata' in e;
}
