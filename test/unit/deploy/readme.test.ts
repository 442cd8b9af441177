import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { SERVE_FLAGS, envVarName } from '../../../src/cli/serveFlags.js';
import { Metrics } from '../../../src/observability/metrics.js';
import { NodeEvents } from '../../../src/observability/nodeEvents.js';
import { stepRows } from '../../../src/lifecycle/terminationSteps.js';
import { launchStepRows } from '../../../src/lifecycle/launchSteps.js';
// @ts-expect-error -- plain JavaScript module without type declarations
import { readmeSections, sectionOf } from '../../../scripts/docs.mjs';

// The README's tables are generated from the code (npm run docs); these fail when someone forgets to regenerate.
const root = new URL('../../../', import.meta.url);
const readme = readFileSync(new URL('README.md', root), 'utf8');
const sections = readmeSections({ SERVE_FLAGS, envVarName, Metrics, NodeEvents, stepRows, launchStepRows }) as Record<string, string>;

describe('README.md', () => {
  it.each(Object.keys(sections))('has the current generated %s table (npm run docs)', (name) => {
    expect(sectionOf(readme, name), `README section "${name}" is stale: run npm run docs`).toBe(sections[name]);
  });

  it('lists every serve flag, metric and Event reason', () => {
    for (const f of SERVE_FLAGS) expect(sections['flags']).toContain(`\`--${f.name}\``);
    for (const m of new Metrics({ defaultMetrics: false }).registry.getMetricsAsArray()) expect(sections['metrics']).toContain(`\`${m.name}\``);
    for (const reason of ['LifecycleHookReceived', 'LifecycleHookFailed', 'NodeDrainSucceeded', 'NodeDeleteSucceeded']) expect(sections['events']).toContain(`\`${reason}\``);
  });

  it('keeps the two-command quick start', () => {
    expect(readme).toContain('npm ci && npm run demo');
    expect(readme).toContain('npm ci && npm test');
  });

  it('links only to files that exist', () => {
    const targets = [...readme.matchAll(/\]\(((?!https?:|#)[^)#\s]+)(?:#[^)]*)?\)/gu)].map((m) => m[1]!);
    expect(targets.length).toBeGreaterThan(5);
    expect(targets.filter((t) => !existsSync(fileURLToPath(new URL(t, root))))).toEqual([]);
  });
});
