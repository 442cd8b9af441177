import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { loadYaml } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';

// There is no Docker engine in CI, so the Dockerfile is checked for what would break the image at run time.
const root = new URL('../../../', import.meta.url);
const dockerfile = readFileSync(new URL('Dockerfile', root), 'utf8');
const pkg = JSON.parse(readFileSync(new URL('package.json', root), 'utf8')) as { bin: Record<string, string>; scripts: Record<string, string> };

describe('the Dockerfile', () => {
  it('starts the CLI that package.json publishes, showing help by default', () => {
    const entrypoint = JSON.parse(/^ENTRYPOINT (.+)$/mu.exec(dockerfile)![1]!) as string[];
    expect(entrypoint).toEqual(['node', `/app/${pkg.bin['lifecycle-manager']}`]);
    expect(/^CMD (.+)$/mu.exec(dockerfile)?.[1]).toBe('["--help"]');
  });

  it('runs as a numeric non-root user, on a Node.js LTS base, with production dependencies only', () => {
    const user = /^USER (\d+)(?::(\d+))?$/mu.exec(dockerfile);
    expect(Number(user?.[1])).toBeGreaterThan(0);
    expect(dockerfile).toMatch(/^ARG NODE_IMAGE=node:22-/mu);
    const finalStage = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
    expect(finalStage).toMatch(/npm ci --omit=dev/u);
    expect(finalStage.indexOf('USER ')).toBeGreaterThan(finalStage.indexOf('npm ci'));
  });

  it('copies only files the build context (.dockerignore) lets in, and that exist', () => {
    const ignore = readFileSync(new URL('.dockerignore', root), 'utf8');
    const sources = [...dockerfile.matchAll(/^COPY (?!--from)(.+) \S+$/gmu)].flatMap((m) => m[1]!.split(/\s+/u));
    expect(sources.length).toBeGreaterThan(3);
    for (const source of sources) {
      expect(existsSync(fileURLToPath(new URL(source, root))), source).toBe(true);
      expect(ignore, `${source} must be re-included in .dockerignore`).toMatch(new RegExp(`^!${source.replace(/[.*]/gu, '\\$&')}(/\\*\\*)?$`, 'mu'));
    }
  });

  it('builds what npm pack builds: every step of the prepack script, in order (the Kubernetes client bundle included)', () => {
    const builder = dockerfile.slice(0, dockerfile.lastIndexOf('\nFROM '));
    const steps = pkg.scripts['prepack']!.split('&&').map((step) => step.trim());
    expect(steps).toContain('node scripts/bundle-kube-client.mjs');
    let at = 0;
    for (const step of steps) {
      const found = builder.indexOf(step.replace(/^tsc /u, 'npx tsc '), at);
      expect(found, `the builder stage runs \`${step}\` after the steps before it`).toBeGreaterThan(at - 1);
      at = found;
    }
  });

  it('runs with the V8 caps the chart deploys by default (values.yaml heapSizeMiB, heapSemiSpaceMiB)', () => {
    const values = loadYaml<{ heapSizeMiB: number; heapSemiSpaceMiB: number }>(readFileSync(new URL('deploy/helm/lifecycle-manager/values.yaml', root), 'utf8'));
    const finalStage = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
    expect(/^ENV NODE_OPTIONS="(.+)"$/mu.exec(finalStage)?.[1]).toBe(`--max-old-space-size=${values.heapSizeMiB} --max-semi-space-size=${values.heapSemiSpaceMiB}`);
  });
});
