import type { Logger } from './logger.js';

/**
 * Sends the process's warnings (`process.emitWarning`: Node.js deprecations, the AWS SDK's notice that it will
 * require a newer Node.js) to `log` as one warning line each, instead of Node's multi-line free text on stderr,
 * so that JSON logs stay JSON. Replaces Node's own printer and any earlier route.
 */
export function routeProcessWarnings(log: Logger): void {
  process.removeAllListeners('warning');
  process.on('warning', (warning: Error & { code?: string }) => {
    log.warn(warning.message.replace(/\s*\n\s*/gu, ' ').trim(), { warning: warning.name, ...(warning.code ? { code: warning.code } : {}) });
  });
}
