import { readFileSync } from 'node:fs';

export interface BuildInfo {
  readonly version: string;
  readonly commit: string | undefined;
  readonly buildDate: string | undefined;
}

/** Reads the version from package.json and, when the build recorded them, the commit and build date. */
export function readBuildInfo(): BuildInfo {
  const pkg = readJson(new URL('../../../package.json', import.meta.url)) ?? readJson(new URL('../../package.json', import.meta.url));
  const info = readJson(new URL('../../build-info.json', import.meta.url));
  return {
    version: typeof pkg?.['version'] === 'string' ? pkg['version'] : '0.0.0-unknown',
    commit: typeof info?.['commit'] === 'string' ? info['commit'] : process.env['LIFECYCLE_MANAGER_GIT_COMMIT'],
    buildDate: typeof info?.['buildDate'] === 'string' ? info['buildDate'] : undefined,
  };
}

function readJson(url: URL): Record<string, unknown> | undefined {
  try {
    return JSON.parse(readFileSync(url, 'utf8')) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}
