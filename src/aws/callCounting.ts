import type { Metrics } from '../observability/metrics.js';

type Handler = (args: unknown) => Promise<unknown>;
interface MiddlewareStackLike {
  // The SDK's overloaded add() cannot be named without importing @smithy/types; any client's stack fits this.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  middlewareStack: { add(middleware: any, options: any): void };
}

interface AttemptError {
  name?: string;
  $metadata?: { httpStatusCode?: number };
}

/** What an attempt's failure is called in `api_errors_total{code}`: the HTTP status, or timeout / network. */
export function errorCode(e: unknown): string {
  const err = e as AttemptError | null;
  if (err?.$metadata?.httpStatusCode) return String(err.$metadata.httpStatusCode);
  if (err?.name === 'AbortError') return 'aborted';
  if (err?.name === 'TimeoutError') return 'timeout';
  return 'network';
}

/**
 * Counts every operation a client issues in `lifecycle_manager_aws_api_calls_total{service,operation}`, at the
 * initialize step: one count per logical call, before the SDK's own retries; and every failed attempt, the ones
 * the SDK retries included, in `lifecycle_manager_api_errors_total{api="aws",operation,code}` (inside the retry
 * loop), so throttling or 5xx that the SDK rides out are visible too.
 */
export function countCalls<T extends MiddlewareStackLike>(client: T, service: string, metrics: Metrics): T {
  client.middlewareStack.add(
    (next: Handler, context: { commandName?: string }) => async (args: unknown) => {
      metrics.awsCalls.inc({ service, operation: operationOf(context) });
      return next(args);
    },
    { step: 'initialize', name: 'lifecycleManagerCallCounter', override: true },
  );
  client.middlewareStack.add(
    (next: Handler, context: { commandName?: string }) => async (args: unknown) => {
      try {
        return await next(args);
      } catch (e) {
        const code = errorCode(e);
        if (code !== 'aborted') metrics.apiErrors.inc({ api: 'aws', operation: `${service}:${operationOf(context)}`, code });
        throw e;
      }
    },
    { step: 'finalizeRequest', priority: 'low', name: 'lifecycleManagerAttemptErrors', override: true },
  );
  return client;
}

function operationOf(context: { commandName?: string }): string {
  return (context.commandName ?? 'Unknown').replace(/Command$/u, '');
}
