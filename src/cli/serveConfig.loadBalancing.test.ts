import { describe, expect, it } from 'vitest';
import { VALID_SERVE_FLAGS, serveConfigProblems } from '../../test/unit/fakes/serveFlags.js';
import { validateServeConfig } from './serveConfig.js';
import { SERVE_FLAGS, attributeName } from './serveFlags.js';

const valid = VALID_SERVE_FLAGS;
const problems = serveConfigProblems;

describe('load-balancer flags', () => {
  it('default to deregistering before the drain, targeted+scan discovery, a 60 s scan reuse and 5 calls/s per API', () => {
    expect(validateServeConfig(valid, {}, new Set())).toMatchObject({
      deregisterOrder: 'before-drain', lbDiscovery: 'targeted+scan', lbScanTtlSeconds: 60, lbApiRatePerSecond: 5,
    });
  });

  it('accept every documented value', () => {
    for (const order of ['before-drain', 'after-drain']) expect(problems({ deregisterOrder: order })).toEqual([]);
    for (const mode of ['targeted', 'scan', 'targeted+scan']) expect(problems({ lbDiscovery: mode })).toEqual([]);
  });

  it('reject anything else with one line naming the flag and its choices', () => {
    expect(problems({ deregisterOrder: 'during', lbDiscovery: 'all', lbScanTtl: '-1', lbApiRate: '0' })).toEqual([
      '--deregister-order must be before-drain or after-drain, got "during"',
      '--lb-discovery must be one of targeted, scan, targeted+scan, got "all"',
      '--lb-scan-ttl must be between 0 and 3600, got -1',
      '--lb-api-rate must be between 1 and 1000, got 0',
    ]);
  });
});
