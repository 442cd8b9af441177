import { AccessDeniedError, TransientError } from '../lifecycle/errors.js';

interface AwsErrorShape {
  name?: string;
  message?: string;
  code?: string;
  $fault?: 'client' | 'server';
  $retryable?: { throttling?: boolean };
  $metadata?: { httpStatusCode?: number };
}

const THROTTLING = new Set([
  'Throttling', 'ThrottlingException', 'ThrottledException', 'RequestThrottledException', 'TooManyRequestsException',
  'ProvisionedThroughputExceededException', 'TransactionInProgressException', 'RequestLimitExceeded',
  'BandwidthLimitExceeded', 'LimitExceededException', 'RequestThrottled', 'SlowDown', 'PriorRequestNotComplete',
  'EC2ThrottledException',
]);
const ACCESS_DENIED = new Set([
  'AccessDenied', 'AccessDeniedException', 'UnauthorizedOperation', 'UnrecognizedClientException', 'InvalidClientTokenId',
  'ExpiredToken', 'ExpiredTokenException', 'InvalidAccessKeyId', 'SignatureDoesNotMatch', 'AuthFailure', 'CredentialsProviderError',
]);
const NETWORK_CODES = /^(ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|ENOTFOUND|EAI_AGAIN|ECONNABORTED)$/u;

export function awsErrorName(e: unknown): string {
  const err = e as AwsErrorShape | null;
  return err?.name ?? err?.code ?? 'Error';
}

export function awsErrorMessage(e: unknown): string {
  const err = e as AwsErrorShape | null;
  const message = (err?.message ?? String(e)).split('\n')[0] ?? '';
  return `${awsErrorName(e)}: ${message}`;
}

export function isThrottling(e: unknown): boolean {
  const err = e as AwsErrorShape | null;
  return THROTTLING.has(awsErrorName(e)) || err?.$retryable?.throttling === true || err?.$metadata?.httpStatusCode === 429;
}

/**
 * Classifies an AWS SDK error into the domain's vocabulary (pure predicate over its shape, never `instanceof` of a
 * particular SDK copy): throttling, 5xx and network failures → TransientError; credential and permission failures
 * → AccessDeniedError; aborts and everything else unchanged (the caller maps service-specific codes first).
 */
export function toDomainError(e: unknown, operation: string): unknown {
  // The SDK throws AbortError when our signal aborted; its own request and connection timeouts are TimeoutErrors,
  // which are transient like any other unanswered request (handled below).
  if (e instanceof Error && e.name === 'AbortError' && !(e as AwsErrorShape).$metadata) return e;
  const err = e as AwsErrorShape | null;
  const name = awsErrorName(e);
  if (isThrottling(e)) return new TransientError(`${operation}: ${awsErrorMessage(e)}`, true, { cause: e });
  if (ACCESS_DENIED.has(name) || err?.$metadata?.httpStatusCode === 403) {
    return new AccessDeniedError(operation, awsErrorMessage(e), { cause: e });
  }
  const status = err?.$metadata?.httpStatusCode;
  if (err?.$fault === 'server' || (status !== undefined && status >= 500)) {
    return new TransientError(`${operation}: ${awsErrorMessage(e)}`, false, { cause: e });
  }
  const code = (e as { code?: unknown }).code;
  if (typeof code === 'string' && NETWORK_CODES.test(code)) return new TransientError(`${operation}: ${awsErrorMessage(e)}`, false, { cause: e });
  if (name === 'TimeoutError' || name === 'RequestTimeout' || name === 'RequestTimeoutException') {
    return new TransientError(`${operation}: ${awsErrorMessage(e)}`, false, { cause: e });
  }
  return e;
}
