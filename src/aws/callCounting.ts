import type { Metrics } from '../observability/metrics.js';

type Handler = (args: unknown) => Promise<unknown>;
interface MiddlewareStackLike {
  // The SDK's overloaded add() cannot be named without importing @smithy/types; any client's stack fits this.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  middlewareStack: { add(middleware: any, options: { step: 'initialize'; name: string; override?: boolean }): void };
}

/**
 * Counts every operation a client issues in `lifecycle_manager_aws_api_calls_total{service,operation}`, at the
 * initialize step: one count per logical call, before the SDK's own retries.
 */
export function countCalls<T extends MiddlewareStackLike>(client: T, service: string, metrics: Metrics): T {
  client.middlewareStack.add(
    (next: Handler, context: { commandName?: string }) => async (args: unknown) => {
      metrics.awsCalls.inc({ service, operation: (context.commandName ?? 'Unknown').replace(/Command$/u, '') });
      return next(args);
    },
    { step: 'initialize', name: 'lifecycleManagerCallCounter', override: true },
  );
  return client;
}
