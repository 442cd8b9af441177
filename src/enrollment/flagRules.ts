/**
 * The validation rules enroll, unenroll and doctor share. Each returns the clean value and pushes a one-line
 * problem naming the flag and the rule into `problems`, so a command reports every problem at once.
 */
import { DLQ_SUFFIX, MANAGED_BY_TAG } from './desired.js';

export { boolFrom, intFrom } from '../cli/flagValues.js';

export type Problems = string[];
export type Env = Readonly<Record<string, string | undefined>>;

export function regionFrom(flag: string | undefined, env: Env, problems: Problems): string {
  const region = flag?.trim() || env['AWS_REGION']?.trim() || env['AWS_DEFAULT_REGION']?.trim() || '';
  if (!region) problems.push('--region was not provided (nor AWS_REGION)');
  else if (!/^[a-z]{2}(-[a-z]+)+-\d+$/u.test(region)) problems.push(`--region must be an AWS region name like us-east-1, got "${region}"`);
  return region;
}

/** A standard queue name that leaves room for the dead-letter queue's suffix; lifecycle hooks cannot notify FIFO queues. */
export function queueNameFrom(flag: string | undefined, problems: Problems): string {
  const name = flag?.trim() ?? '';
  const max = 80 - DLQ_SUFFIX.length;
  if (!name) problems.push('--queue-name was not provided');
  else if (name.endsWith('.fifo')) problems.push(`--queue-name: lifecycle hooks cannot notify a FIFO queue ("${name}")`);
  else if (!/^[A-Za-z0-9_-]+$/u.test(name) || name.length > max) problems.push(`--queue-name must be 1-${max} letters, digits, - or _, got "${name}"`);
  return name;
}

export function roleNameFrom(flag: string | undefined, problems: Problems, required = true): string {
  const name = flag?.trim() ?? '';
  if (!name) {
    if (required) problems.push('--notification-role-name was not provided');
  } else if (!/^[\w+=,.@-]{1,64}$/u.test(name)) {
    problems.push(`--notification-role-name must be 1-64 letters, digits or +=,.@_-, got "${name}"`);
  }
  return name;
}

/** Accepts repeated flags and comma-separated lists (cobra's string slice); drops blanks and duplicates. */
export function groupNamesFrom(values: readonly string[] | undefined, problems: Problems, required = true): string[] {
  const names = [...new Set((values ?? []).flatMap((v) => v.split(',')).map((v) => v.trim()).filter(Boolean))];
  if (names.length === 0 && required) problems.push('--target-scaling-groups was not provided');
  for (const n of names) if (n.length > 255) problems.push(`--target-scaling-groups: name longer than 255 characters: "${n.slice(0, 40)}…"`);
  return names;
}

export function hookNameFrom(flag: string | undefined, problems: Problems): string {
  const name = flag?.trim() ?? '';
  if (!/^[A-Za-z0-9/_-]{1,255}$/u.test(name)) problems.push(`--hook-name must be 1-255 letters, digits, -, _ or /, got "${name}"`);
  return name;
}


export function defaultResultFrom(flag: string, value: string | undefined, problems: Problems): 'CONTINUE' | 'ABANDON' {
  const v = (value ?? '').trim().toUpperCase();
  if (v === 'CONTINUE' || v === 'ABANDON') return v;
  problems.push(`--${flag} must be CONTINUE or ABANDON, got "${value ?? ''}"`);
  return 'CONTINUE';
}


/** `--tags a=b,c=d` (repeatable); managed-by is reserved. IAM and SQS both allow 50 tags. */
/** --cluster-name: a cluster name as serve accepts it, or undefined when not given. */
export function clusterNameFrom(flag: string | undefined, problems: Problems): string | undefined {
  const name = flag?.trim() || undefined;
  if (name && !/^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/u.test(name)) problems.push(`--cluster-name must be a cluster name (letters, digits, ., _ or -), got "${name}"`);
  return name;
}

export function tagsFrom(values: readonly string[] | undefined, problems: Problems): Record<string, string> {
  const tags: Record<string, string> = {};
  for (const pair of (values ?? []).flatMap((v) => v.split(',')).map((v) => v.trim()).filter(Boolean)) {
    const eq = pair.indexOf('=');
    const key = eq < 0 ? pair : pair.slice(0, eq).trim();
    const value = eq < 0 ? '' : pair.slice(eq + 1).trim();
    if (eq <= 0 || !key) problems.push(`--tags entries must be key=value, got "${pair}"`);
    else if (key === MANAGED_BY_TAG.key) problems.push(`--tags: ${MANAGED_BY_TAG.key} is set by lifecycle-manager (${MANAGED_BY_TAG.key}=${MANAGED_BY_TAG.value})`);
    else if (key.length > 128 || value.length > 256 || key.startsWith('aws:')) problems.push(`--tags: "${key}" must be at most 128 characters, its value at most 256, and not start with aws:`);
    else tags[key] = value;
  }
  if (Object.keys(tags).length > 49) problems.push(`--tags: at most 49 tags (one more is ${MANAGED_BY_TAG.key}), got ${Object.keys(tags).length}`);
  return tags;
}
