import { AccessDeniedError, TransientError } from '../lifecycle/errors.js';
import type { AuthorizerWarmup } from './authorizerWarmup.js';

/** The HTTP status of a Kubernetes API error, or undefined for anything else (network errors, aborts). */
export function statusCode(e: unknown): number | undefined {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}

/** The `message` of the Status object in an ApiException body, without response headers. */
export function statusMessage(e: unknown): string {
  const body = (e as { body?: unknown } | null)?.body;
  if (typeof body === 'string') {
    try {
      const parsed = JSON.parse(body) as { message?: unknown };
      if (typeof parsed.message === 'string') return parsed.message;
    } catch {
      return body.slice(0, 300);
    }
  }
  if (body && typeof body === 'object' && typeof (body as { message?: unknown }).message === 'string') return (body as { message: string }).message;
  return e instanceof Error ? e.message.split('\n')[0] ?? e.name : String(e);
}

/** True when the Status body of an ApiException lists a cause of `type` (e.g. NamespaceTerminating). */
export function hasStatusCause(e: unknown, type: string): boolean {
  const body = (e as { body?: unknown } | null)?.body;
  let status: unknown = body;
  if (typeof body === 'string') {
    try {
      status = JSON.parse(body);
    } catch {
      return false;
    }
  }
  const causes = (status as { details?: { causes?: unknown } } | null)?.details?.causes;
  return Array.isArray(causes) && causes.some((c) => (c as { type?: unknown } | null)?.type === type);
}

export const isNotFound = (e: unknown): boolean => statusCode(e) === 404;
export const isConflict = (e: unknown): boolean => statusCode(e) === 409;

/**
 * Translates a Kubernetes client error into the domain's vocabulary: 401/403 → AccessDeniedError (but a 403 from an
 * apiserver whose authorizer is still warming up → TransientError); 429, 5xx and network failures → TransientError;
 * aborts and everything else unchanged.
 */
export function toDomainError(e: unknown, operation: string, warmup?: AuthorizerWarmup): unknown {
  if (e instanceof Error && (e.name === 'AbortError' || e.name === 'TimeoutError')) return e;
  const code = statusCode(e);
  if (code === 403 && warmup?.isWarmupRefusal(e)) {
    return new TransientError(`${operation}: HTTP 403 although this identity was authorized before (the apiserver's authorization caches are still syncing after a restart?): ${statusMessage(e)}`, false, { cause: e });
  }
  if (code === 401 || code === 403) return new AccessDeniedError(operation, statusMessage(e), { cause: e });
  if (code === 429 || (code !== undefined && code >= 500)) {
    return new TransientError(`${operation}: HTTP ${code}: ${statusMessage(e)}`, code === 429, { cause: e });
  }
  if (code === undefined && e instanceof Error && isNetworkError(e)) {
    return new TransientError(`${operation}: ${e.message.split('\n')[0]}`, false, { cause: e });
  }
  if (code !== undefined) return new Error(`${operation}: HTTP ${code}: ${statusMessage(e)}`, { cause: e });
  return e;
}

function isNetworkError(e: Error): boolean {
  const code = (e as { code?: unknown }).code ?? (e as { errno?: unknown }).errno;
  return e.name === 'FetchError' || (typeof code === 'string' && /^(ECONN|EPIPE|ETIMEDOUT|EHOSTUNREACH|ENOTFOUND|EAI_AGAIN|UND_ERR)/u.test(code));
}
