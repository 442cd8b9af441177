/**
 * Parsing of flag values shared by every command. Each returns the clean value and pushes a one-line problem
 * naming the flag and the rule into `problems`, so a command reports every problem at once.
 */
export type Problems = string[];

export function intFrom(flag: string, value: string | undefined, min: number, max: number, problems: Problems): number {
  const s = (value ?? '').trim();
  if (!/^-?\d+$/u.test(s)) {
    problems.push(`--${flag} must be a whole number, got "${s}"`);
    return 0;
  }
  const n = Number(s);
  if (n < min || n > max) problems.push(max === Number.MAX_SAFE_INTEGER ? `--${flag} must be >= ${min}, got ${n}` : `--${flag} must be between ${min} and ${max}, got ${n}`);
  return n;
}

export function boolFrom(flag: string, value: string | boolean | undefined, problems: Problems): boolean {
  if (typeof value === 'boolean') return value;
  const s = (value ?? '').trim().toLowerCase();
  if (['true', '1', 'yes', ''].includes(s)) return true;
  if (['false', '0', 'no'].includes(s)) return false;
  problems.push(`--${flag} must be true or false, got "${s}"`);
  return false;
}
