import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, inject, it } from 'vitest';

// The documentation against the BUILT CLI (what users run): README's flags table and docs/cli.md.
const { repoRoot } = inject('harness');
const MAIN = join(repoRoot, 'dist', 'src', 'cli', 'main.js');

interface Docs {
  sectionOf(text: string, name: string): string | undefined;
  shownDefault(value: string): string;
  cliReference(mainJs: string): string;
}
const docs = (await import(join(repoRoot, 'scripts', 'docs.mjs'))) as Docs;

/** `--name` → { default, env } as commander prints them in `serve --help` (wrapped lines joined). */
function helpFlags(help: string): Map<string, { defaultValue: string | undefined; env: string | undefined }> {
  const flat = help.replace(/\s+/gu, ' ');
  const starts = [...flat.matchAll(/ --([a-z][a-z0-9-]*) (?:<\w+>|\[\w+\]) /gu)];
  const flags = new Map<string, { defaultValue: string | undefined; env: string | undefined }>();
  starts.forEach((m, i) => {
    const text = flat.slice(m.index, starts[i + 1]?.index ?? flat.length);
    flags.set(m[1]!, {
      defaultValue: /\(default: "((?:[^"\\]|\\.)*)"/u.exec(text)?.[1],
      env: /env: ([A-Z0-9_]+)\)/u.exec(text)?.[1],
    });
  });
  return flags;
}

describe('the documentation', () => {
  it('README lists exactly the flags `serve --help` shows, with the same defaults and environment variables', () => {
    const help = execFileSync(process.execPath, [MAIN, 'serve', '--help'], { encoding: 'utf8', timeout: 30_000 });
    const fromHelp = helpFlags(help);
    expect(fromHelp.size).toBeGreaterThan(15);
    const table = docs.sectionOf(readFileSync(join(repoRoot, 'README.md'), 'utf8'), 'flags') ?? '';
    const rows = new Map([...table.matchAll(/^\| `--([a-z0-9-]+)` \| (.*?) \| `([A-Z0-9_]+)` \|/gmu)].map((m) => [m[1]!, { shown: m[2]!, env: m[3]! }]));
    expect([...rows.keys()].sort(), 'README flags table is stale: run npm run docs').toEqual([...fromHelp.keys()].sort());
    for (const [name, { defaultValue, env }] of fromHelp) {
      expect(rows.get(name), `--${name}`).toEqual({ shown: docs.shownDefault(defaultValue ?? ''), env });
    }
  });

  it('docs/cli.md is the built CLI\'s --help for every command (npm run docs)', () => {
    const expected = docs.cliReference(MAIN);
    expect(expected).toContain('## serve');
    expect(readFileSync(join(repoRoot, 'docs', 'cli.md'), 'utf8'), 'docs/cli.md is stale: run npm run docs').toBe(expected);
  });
});
