import type { TestProject } from 'vitest/node';
import { type HarnessInfo, startHarness } from '../harness/infra.js';

declare module 'vitest' {
  export interface ProvidedContext {
    harness: HarnessInfo;
  }
}

/** Starts the real apiserver and moto once for the e2e project; stops both (process groups) at the end. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const started = Date.now();
  const harness = await startHarness();
  process.stderr.write(`harness: apiserver + moto ready in ${((Date.now() - started) / 1000).toFixed(1)}s (logs in ${harness.info.workDir})\n`);
  project.provide('harness', harness.info);
  return () => harness.stop();
}
