import { readFileSync } from 'node:fs';
import * as k8s from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { SERVE_FLAGS } from '../../../src/cli/serveFlags.js';

// values.yaml's `flags` map is how the chart configures serve; these keep it in step with SERVE_FLAGS.
const root = new URL('../../../', import.meta.url);
const chartFile = (name: string): string => readFileSync(new URL(`deploy/helm/lifecycle-manager/${name}`, root), 'utf8');
const values = k8s.loadYaml<{ flags: Record<string, unknown> }>(chartFile('values.yaml'));

/** Values the chart chooses on purpose instead of the binary's default. */
const CHART_CHOICES = new Set(['queue-name']);

/** A values.yaml entry as the chart passes it on the command line. */
function asArgument(value: unknown): string {
  return Array.isArray(value) ? value.join(',') : String(value);
}

describe('the chart\'s values.yaml', () => {
  it('has an entry for every serve flag', () => {
    const missing = SERVE_FLAGS.map((f) => f.name).filter((name) => !(name in values.flags));
    expect(missing, 'add each to `flags:` in deploy/helm/lifecycle-manager/values.yaml with its default, then run npm run manifests').toEqual([]);
  });

  it('names no flag that serve does not have', () => {
    const known = new Set(SERVE_FLAGS.map((f) => f.name));
    expect(Object.keys(values.flags).filter((name) => !known.has(name))).toEqual([]);
  });

  it('gives each flag the binary\'s own default, or leaves it out (null or "")', () => {
    const differing = SERVE_FLAGS
      .filter((f) => !CHART_CHOICES.has(f.name))
      .map((f) => ({ flag: f.name, value: values.flags[f.name], binary: f.defaultValue }))
      .filter(({ value, binary }) => value !== null && value !== '' && asArgument(value) !== binary);
    expect(differing).toEqual([]);
  });

  it('names a home, sources and icon only where package.json says the project lives (none yet: no made-up URL)', () => {
    const chart = k8s.loadYaml<{ home?: string; sources?: string[]; icon?: string }>(chartFile('Chart.yaml'));
    const pkg = JSON.parse(readFileSync(new URL('package.json', root), 'utf8')) as { repository?: { url?: string } | string };
    const repository = (typeof pkg.repository === 'string' ? pkg.repository : pkg.repository?.url)?.replace(/^git\+/u, '').replace(/\.git$/u, '');
    if (!repository) {
      expect([chart.home, chart.sources, chart.icon]).toEqual([undefined, undefined, undefined]);
    } else {
      expect(chart.home).toBe(repository);
      expect(chart.sources).toContain(repository);
    }
  });

  it('ships the version of package.json as the chart\'s appVersion', () => {
    const chart = k8s.loadYaml<{ appVersion: string }>(chartFile('Chart.yaml'));
    const pkg = JSON.parse(readFileSync(new URL('package.json', root), 'utf8')) as { version: string };
    expect(chart.appVersion).toBe(pkg.version);
  });
});

describe('the chart\'s generated files (npm run docs)', () => {
  it('values.schema.json and README.md are a fresh render of SERVE_FLAGS, files/alerts.yaml and values.yaml', async () => {
    // @ts-expect-error -- plain JavaScript module without type declarations
    const { chartReadme, readAlerts, valuesSchemaJson } = (await import('../../../scripts/chart-docs.mjs')) as Record<string, (...a: unknown[]) => unknown>;
    const modules = { flags: SERVE_FLAGS, alerts: readAlerts() };
    expect(chartFile('values.schema.json'), 'values.schema.json is stale: run npm run docs').toBe(valuesSchemaJson(modules));
    expect(chartFile('README.md'), 'the chart README is stale: run npm run docs').toBe(chartReadme(modules));
  });

  it('types every serve flag with its bounds, and refuses unknown ones', () => {
    const schema = JSON.parse(chartFile('values.schema.json')) as { properties: { flags: { properties: Record<string, unknown>; additionalProperties: unknown } } };
    expect(Object.keys(schema.properties.flags.properties).sort()).toEqual(SERVE_FLAGS.map((f) => f.name).sort());
    expect(schema.properties.flags.additionalProperties).toBe(false);
    const pollingInterval = JSON.stringify(schema.properties.flags.properties['polling-interval']);
    expect(pollingInterval).toContain('"minimum":0');
    expect(pollingInterval).toContain('"maximum":20');
  });
});
