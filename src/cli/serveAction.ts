import { setMaxListeners } from 'node:events';
import type { Command } from 'commander';
import { readBuildInfo } from './buildInfo.js';
import { setFatalFormat } from './failures.js';
import { runServe } from './serve.js';
import { validateServeConfig } from './serveConfig.js';
import { SERVE_FLAGS, attributeName } from './serveFlags.js';

/** `serve`: validates every flag at once, then runs the service until SIGTERM/SIGINT. */
export async function serveAction(command: Command, env: Readonly<Record<string, string | undefined>>): Promise<void> {
  const raw = command.opts<Record<string, string>>();
  if (raw['logFormat'] === 'json' || raw['logFormat'] === 'text') setFatalFormat(raw['logFormat']);
  const explicitlySet = new Set(SERVE_FLAGS.map((f) => f.name).filter((n) => {
    const source = command.getOptionValueSource(attributeName(n));
    return source === 'cli' || source === 'env';
  }));
  const config = validateServeConfig(raw, env, explicitlySet);
  const controller = new AbortController();
  // Every action in flight listens for shutdown: hundreds of listeners are expected, not a leak.
  setMaxListeners(0, controller.signal);
  const stop = (signal: NodeJS.Signals): void => {
    if (controller.signal.aborted) return;
    controller.abort(Object.assign(new Error(`received ${signal}`), { name: 'AbortError' }));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  await runServe(config, readBuildInfo(), { env, shutdown: controller.signal });
}
