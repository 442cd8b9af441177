/**
 * The closed set of domain errors. Adapters translate SDK and Kubernetes errors into these; nothing above an
 * adapter sees a raw ServiceException or ApiException.
 */

/** AWS has no pending lifecycle action for this instance/token: it was completed, abandoned or expired. */
export class ActionGoneError extends Error {
  override readonly name = 'ActionGoneError';
  constructor(readonly instanceId: string, options?: { cause?: unknown }) {
    super(`no active lifecycle action for instance ${instanceId}`, options);
  }
}

/** Another replica owns the action now (this one could not renew its record in time). */
export class OwnershipLostError extends Error {
  override readonly name = 'OwnershipLostError';
  constructor(readonly instanceId: string) {
    super(`another replica has taken over the lifecycle action for instance ${instanceId}`);
  }
}

/** Pods were still on the node after every drain attempt and the escalation. */
export class DrainFailedError extends Error {
  override readonly name = 'DrainFailedError';
  constructor(readonly nodeName: string, readonly reason: string) {
    super(`failed to drain node: ${reason}`);
  }
}

/** A launching instance's Node (or its DaemonSet pods) did not become Ready within --launch-timeout. */
export class LaunchNotReadyError extends Error {
  override readonly name = 'LaunchNotReadyError';
  constructor(message: string, readonly nodeRegistered: boolean) {
    super(message);
  }
}

/** Throttling, a 5xx, a network failure or a timeout: worth retrying within the deadline. */
export class TransientError extends Error {
  override readonly name = 'TransientError';
  constructor(message: string, readonly throttled: boolean, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** The credentials lack a permission. Not retried: it will not heal by itself. */
export class AccessDeniedError extends Error {
  override readonly name = 'AccessDeniedError';
  constructor(readonly operation: string, message: string, options?: { cause?: unknown }) {
    super(`access denied calling ${operation}: ${message}`, options);
  }
}

/** The SQS queue named in the configuration does not exist. */
export class QueueNotFoundError extends Error {
  override readonly name = 'QueueNotFoundError';
  constructor(readonly queueName: string, readonly region: string, options?: { cause?: unknown }) {
    super(`SQS queue "${queueName}" does not exist in region ${region}`, options);
  }
}

/** A named AWS resource (target group, load balancer) no longer exists. */
export class ResourceGoneError extends Error {
  override readonly name = 'ResourceGoneError';
  constructor(readonly resource: string, options?: { cause?: unknown }) {
    super(`${resource} no longer exists`, options);
  }
}

/** serve's identity lacks permissions it needs; one line per permission, naming verb, resource and namespace. */
export class MissingPermissionsError extends Error {
  override readonly name = 'MissingPermissionsError';
  constructor(readonly problems: readonly string[]) {
    super(problems.join('; '));
  }
}

/** Configuration that cannot work; the message names the flag and the rule. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(readonly problems: readonly string[]) {
    super(problems.join('; '));
  }
}

/** AWS refused a request for a reason retrying will not fix (validation, conflict, limit); names the operation and AWS's error code. */
export class RequestRejectedError extends Error {
  override readonly name = 'RequestRejectedError';
  constructor(readonly operation: string, message: string, options?: { cause?: unknown }) {
    super(`${operation}: ${message}`, options);
  }
}

export const isActionGone = (e: unknown): e is ActionGoneError => e instanceof ActionGoneError;
export const isOwnershipLost = (e: unknown): e is OwnershipLostError => e instanceof OwnershipLostError;
export const isTransient = (e: unknown): e is TransientError => e instanceof TransientError;
export const isAccessDenied = (e: unknown): e is AccessDeniedError => e instanceof AccessDeniedError;
export const isResourceGone = (e: unknown): e is ResourceGoneError => e instanceof ResourceGoneError;

/** True when the error is the abort of a signal we passed (shutdown or deadline), not a failure of the call. */
export function isAbort(e: unknown): boolean {
  return e instanceof Error && (e.name === 'AbortError' || e.name === 'TimeoutError');
}

/** A short, single-line description of any thrown value, safe to log. */
export function describeError(e: unknown): string {
  if (e instanceof Error) return e.message.split('\n')[0] ?? e.name;
  return String(e);
}
