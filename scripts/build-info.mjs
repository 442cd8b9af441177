#!/usr/bin/env node
// Records the commit and build date next to the compiled code (dist/build-info.json) for `lifecycle-manager version`.
// The commit comes from $LIFECYCLE_MANAGER_GIT_COMMIT (image builds) or git, when either is available.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';

let commit = process.env.LIFECYCLE_MANAGER_GIT_COMMIT;
if (!commit) {
  try {
    commit = execFileSync('git', ['rev-parse', '--short=12', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    commit = undefined;
  }
}
mkdirSync('dist', { recursive: true });
writeFileSync('dist/build-info.json', `${JSON.stringify({ commit, buildDate: new Date().toISOString() }, null, 2)}\n`);
