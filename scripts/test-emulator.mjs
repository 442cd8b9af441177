#!/usr/bin/env node
// Runs the AWS emulator extension's own tests (test/aws, pytest against a real moto server) with the pinned moto.
import { spawnSync } from 'node:child_process';
import { ensureMoto, repoRoot } from './testinfra.mjs';

const python = ensureMoto();
const result = spawnSync(python, ['-m', 'pytest', 'test/aws', '-q', '-p', 'no:cacheprovider'], { cwd: repoRoot, stdio: 'inherit' });
process.exit(result.status ?? 1);
