import { ConfigError } from '../../../src/lifecycle/errors.js';
import { type RawFlags, validateServeConfig } from '../../../src/cli/serveConfig.js';
import { SERVE_FLAGS, attributeName } from '../../../src/cli/serveFlags.js';

/** serve's flags at their defaults plus the two it needs (by attribute name, as commander hands them over). */
export const VALID_SERVE_FLAGS: RawFlags = {
  ...Object.fromEntries(SERVE_FLAGS.map((f) => [attributeName(f.name), f.defaultValue])) as RawFlags,
  queueName: 'lifecycle-manager-queue', region: 'us-west-2',
};

/** The one-line problems validateServeConfig reports for `raw` over `base` (none: []); anything else is thrown. */
export function serveConfigProblems(raw: Record<string, string>, env: Record<string, string> = {}, base: RawFlags = VALID_SERVE_FLAGS): string[] {
  try {
    validateServeConfig({ ...base, ...raw }, env, new Set());
    return [];
  } catch (e) {
    if (e instanceof ConfigError) return [...e.problems];
    throw e;
  }
}
