#!/usr/bin/env node
// Replaces dist/src/kube/k8s.js (tsc's output: a re-export of the values the service uses from
// @kubernetes/client-node) with a tree-shaken, minified bundle of exactly those values and what they need, so a
// running service does not hold every API group the client generates (src/kube/k8s.ts says why). The bundle starts
// with the name, version and licence of every package it contains. Then it checks that no other compiled module of
// the service imports the client at run time, which would load the whole package again.
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { build } from 'rolldown';

const root = join(dirname(new URL(import.meta.url).pathname), '..');
const entry = join(root, 'dist', 'src', 'kube', 'k8s.js');
const PACKAGE = '@kubernetes/client-node';

const result = await build({
  input: entry,
  platform: 'node',
  logLevel: 'warn',
  write: false,
  output: { format: 'esm', minify: true, comments: { legal: false } },
});
const chunk = result.output.find((o) => o.type === 'chunk');
if (!chunk || result.output.length !== 1) throw new Error(`bundling ${PACKAGE}: expected one chunk, got ${result.output.length} outputs`);

const packages = new Map();
for (const id of chunk.moduleIds) {
  const at = id.lastIndexOf(`${sep}node_modules${sep}`);
  if (at < 0) continue;
  const parts = id.slice(at + 14).split(sep);
  const name = parts[0].startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0];
  const dir = id.slice(0, at + 14) + name.split('/').join(sep);
  if (packages.has(dir)) continue;
  const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  packages.set(dir, `${manifest.name}@${manifest.version} (${manifest.license ?? 'see its package'})`);
}
if (![...packages.values()].some((p) => p.startsWith(`${PACKAGE}@`))) throw new Error(`bundling ${PACKAGE}: the bundle does not contain it`);
const banner = `/*! lifecycle-manager: a tree-shaken bundle of ${PACKAGE} (see src/kube/k8s.ts). It contains:\n${[...packages.values()].sort().map((p) => ` *   ${p}`).join('\n')}\n */\n`;
writeFileSync(entry, banner + chunk.code);

// Every other compiled module must get the client through k8s.js.
const offenders = [];
const walk = (dir) => {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, e.name);
    if (e.isDirectory()) walk(path);
    else if (e.name.endsWith('.js') && path !== entry && /(?:from|import\()\s*['"]@kubernetes\/client-node/u.test(readFileSync(path, 'utf8'))) offenders.push(relative(root, path));
  }
};
walk(join(root, 'dist', 'src'));
if (offenders.length > 0) {
  console.error(`these modules import ${PACKAGE} directly; import it from src/kube/k8s.js (and name what they use there): ${offenders.join(', ')}`);
  process.exit(1);
}
console.log(`bundled ${PACKAGE}: ${(Buffer.byteLength(chunk.code) / 1024).toFixed(0)} KiB, ${packages.size} packages, ${chunk.moduleIds.length} modules`);
