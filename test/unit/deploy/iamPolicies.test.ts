import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// deploy/iam/*.json against the AWS operations the code really issues (read from the sources: every
// `new XCommand(` / `paginateX(` of an @aws-sdk client), so a new call without its permission fails here.
const root = resolve(fileURLToPath(new URL('../../../', import.meta.url)));
const SRC = join(root, 'src');

const SERVICE_PREFIX: Record<string, string> = {
  'client-sqs': 'sqs', 'client-auto-scaling': 'autoscaling', 'client-elastic-load-balancing': 'elasticloadbalancing',
  'client-elastic-load-balancing-v2': 'elasticloadbalancing', 'client-iam': 'iam', 'client-sts': 'sts', 'client-ec2': 'ec2',
};
/** Batch operations are authorised by their single-message action. */
const BATCH_ACTIONS: Record<string, string> = {
  'sqs:DeleteMessageBatch': 'sqs:DeleteMessage', 'sqs:ChangeMessageVisibilityBatch': 'sqs:ChangeMessageVisibility', 'sqs:SendMessageBatch': 'sqs:SendMessage',
};
/** Needs no permission at all. */
const ALWAYS_ALLOWED = new Set(['sts:GetCallerIdentity']);
/** Used by `doctor` only, which runs with the operator's own credentials, not the service's role. */
const DOCTOR_ONLY = new Set(['iam:SimulatePrincipalPolicy']);
/** Authorised without an API call of its own (PutLifecycleHook passes the notification role). */
const IMPLICIT = new Set(['iam:PassRole']);

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(p);
    return e.name.endsWith('.ts') && !e.name.endsWith('.test.ts') ? [p] : [];
  });
}

/** IAM actions a source file's AWS calls need. */
function actionsIn(file: string): Set<string> {
  const text = readFileSync(file, 'utf8');
  const clientOf = new Map<string, string>();
  // Static imports, and modules loaded on first use (`const { X } = await import('@aws-sdk/client-…')`).
  for (const m of text.matchAll(/(?:import|const)\s*\{([^}]*)\}\s*(?:from\s*|=\s*await\s+import\()'@aws-sdk\/(client-[a-z0-9-]+)'/gu)) {
    for (const name of m[1]!.split(',').map((s) => s.replace(/^\s*type\s+/u, '').trim()).filter(Boolean)) clientOf.set(name, m[2]!);
  }
  const actions = new Set<string>();
  for (const m of text.matchAll(/\bnew\s+([A-Z]\w*)Command\s*\(|\bpaginate([A-Z]\w*)\s*\(/gu)) {
    const operation = (m[1] ?? m[2])!;
    const client = clientOf.get(`${operation}Command`) ?? clientOf.get(`paginate${operation}`);
    const prefix = client ? SERVICE_PREFIX[client] : undefined;
    if (!prefix) continue;
    const action = `${prefix}:${operation}`;
    actions.add(BATCH_ACTIONS[action] ?? action);
  }
  return actions;
}

/** Files reachable from `entry` through relative imports that are not type-only. */
function reachableFrom(entry: string): string[] {
  const seen = new Set<string>();
  const queue = [entry];
  while (queue.length > 0) {
    const file = queue.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/^(?:import|export)\s+(type\s+)?[^;]*?from\s+'(\.[^']+)\.js';/gmsu)) {
      if (!m[1]) queue.push(resolve(dirname(file), `${m[2]}.ts`));
    }
    // Commands load their implementation when they run (`await import('./enrollAction.js')`): reachable too.
    for (const m of text.matchAll(/\bimport\('(\.[^']+)\.js'\)/gu)) queue.push(resolve(dirname(file), `${m[1]}.ts`));
  }
  return [...seen];
}

interface Statement { Effect: string; Action: string | string[]; Resource: string | string[]; Condition?: unknown }
function policy(name: string): Statement[] {
  return (JSON.parse(readFileSync(join(root, 'deploy', 'iam', name), 'utf8')) as { Statement: Statement[] }).Statement;
}
const list = (x: string | string[]): string[] => (Array.isArray(x) ? x : [x]);
const actionsOf = (statements: Statement[]): Set<string> => new Set(statements.flatMap((s) => list(s.Action)));

const servePolicy = policy('serve-policy.json');
const enrollPolicy = policy('enroll-policy.json');
const union = (...sets: Set<string>[]): Set<string> => new Set(sets.flatMap((s) => [...s]));

describe('the IAM policies in deploy/iam', () => {
  it('grant serve every AWS action its code issues', () => {
    const needed = union(...reachableFrom(join(SRC, 'cli', 'serve.ts')).map(actionsIn));
    expect(needed.size).toBeGreaterThan(5);
    const granted = actionsOf(servePolicy);
    expect([...needed].filter((a) => !granted.has(a) && !ALWAYS_ALLOWED.has(a)).sort(), 'add these to deploy/iam/serve-policy.json').toEqual([]);
  });

  it('grant enroll and unenroll every AWS action their code issues', () => {
    const needed = union(...['enroll.ts', 'unenroll.ts'].flatMap((f) => reachableFrom(join(SRC, 'cli', f))).map(actionsIn));
    expect(needed.has('autoscaling:PutLifecycleHook')).toBe(true);
    const granted = actionsOf(enrollPolicy);
    // Reachability is per file, and the admin clients file also builds doctor's permission simulator.
    expect([...needed].filter((a) => !granted.has(a) && !ALWAYS_ALLOWED.has(a) && !DOCTOR_ONLY.has(a)).sort(), 'add these to deploy/iam/enroll-policy.json').toEqual([]);
  });

  it('cover every AWS action anywhere in src/ (enroll and unenroll: enroll-policy.json)', () => {
    const used = new Map<string, string>();
    for (const file of sourceFiles(SRC)) for (const a of actionsIn(file)) used.set(a, relative(root, file));
    const granted = union(actionsOf(servePolicy), actionsOf(enrollPolicy), ALWAYS_ALLOWED, DOCTOR_ONLY);
    expect([...used].filter(([a]) => !granted.has(a)).map(([a, file]) => `${a} (${file})`).sort()).toEqual([]);
  });

  it('grant nothing the code never uses', () => {
    const used = union(...sourceFiles(SRC).map(actionsIn), IMPLICIT);
    for (const [name, statements] of [['serve', servePolicy], ['enroll', enrollPolicy]] as const) {
      expect([...actionsOf(statements)].filter((a) => !used.has(a)), `${name}-policy.json`).toEqual([]);
    }
  });

  it('put only read actions on "*" and scope SQS to the queue', () => {
    for (const s of [...servePolicy, ...enrollPolicy]) {
      expect(s.Effect).toBe('Allow');
      if (list(s.Resource).includes('*')) {
        expect(list(s.Action).filter((a) => !/^[a-z0-9]+:(Describe|Get|List)/u.test(a)), JSON.stringify(s)).toEqual([]);
      }
      if (list(s.Action).some((a) => a.startsWith('sqs:'))) {
        for (const r of list(s.Resource)) expect(r).toMatch(/^arn:aws:sqs:\*:\*:lifecycle-manager-queue(-dlq)?$/u);
      }
    }
  });
});
