import { Option } from 'commander';
import type { FlagSpec } from './serveFlags.js';

// Option helpers shared by every command's definition. Kept free of SDK imports: `--help` and `version` load only
// commander and the command definitions.

/** Commander argument parser for repeatable list flags: `--x a,b --x c` → ['a,b', 'c'] (split later). */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** A boolean flag that also accepts `--flag=true|false`, like upstream's cobra flags. */
export function boolOption(flags: string, description: string): Option {
  return new Option(`${flags} [bool]`, description).default('false').preset('true');
}

/** A serve flag as a commander option (bool flags take an optional value, like upstream's cobra flags). */
export function serveFlagOption(flag: FlagSpec, description = flag.description): Option {
  const value = flag.kind === 'bool' ? '[bool]' : flag.kind === 'int' ? '<int>' : flag.kind === 'list' ? '<list>' : '<string>';
  const option = new Option(`--${flag.name} ${value}`, description).default(flag.defaultValue);
  if (flag.kind === 'bool') option.preset('true');
  return option;
}
