import { randomBytes } from 'node:crypto';
import { describe, expect, inject, it } from 'vitest';
import { describePermission, servicePermissions } from '../../src/kube/permissions.js';
import { testAwsClients } from '../harness/awsClients.js';
import { createEmptyGroups } from '../harness/autoScalingGroups.js';
import { runCli } from '../harness/cli.js';
import { adminKubeConfig } from '../harness/infra.js';
import { REGION, motoAwsEnv } from '../harness/moto.js';
import { PARTIAL_USER, bindClusterRole, bindRole, shippedClusterRoleRules, shippedRoleRules } from '../harness/rbac.js';

const info = inject('harness');
const aws = testAwsClients(info.motoEndpoint);
/** What serve needs, its Leases in the harness's (and serve's default) namespace. */
const KUBE = servicePermissions('lifecycle-manager');
const cli = (...args: string[]) => runCli(info.repoRoot, args, motoAwsEnv(info.motoEndpoint));

async function enrolled() {
  const id = randomBytes(4).toString('hex');
  const i = { queue: `lm-doctor-${id}`, role: `lm-notify-${id}`, groups: await createEmptyGroups(aws, 2, `asg-doctor-${id}`) };
  const run = await cli('enroll', '--region', REGION, '--queue-name', i.queue, '--notification-role-name', i.role, '--target-scaling-groups', i.groups.join(','));
  expect(run.code).toBe(0);
  return i;
}

/** The table's rows: [mark, check]. */
const rows = (stdout: string) => stdout.split('\n').flatMap((l) => {
  const m = /^([✓✗–]) {2}(.+?) {2,}/u.exec(l);
  return m ? [[m[1]!, m[2]!.trim()] as const] : [];
});

describe('doctor', () => {
  it('passes a healthy installation (the IAM simulation, which the emulator lacks, is skipped and says so)', async () => {
    const i = await enrolled();
    const run = await cli('doctor', '--region', REGION, '--queue-name', i.queue, '--local-mode', info.serviceKubeconfigPath);
    expect(run.code).toBe(0);
    const table = rows(run.stdout);
    expect(table.filter(([mark]) => mark === '✗')).toEqual([]);
    expect(table.filter(([mark]) => mark === '–')).toEqual([['–', 'IAM permissions']]);
    expect(run.stdout).toMatch(/–  IAM permissions +not checked: iam:SimulatePrincipalPolicy is not available at this endpoint/u);
    // Without --target-scaling-groups it found both enrolled groups by their hook's target.
    for (const g of i.groups) expect(table).toEqual(expect.arrayContaining([['✓', `hook on '${g}'`], ['✓', `hook timeout on '${g}'`], ['✓', `default result on '${g}'`]]));
    expect(table.filter(([mark, check]) => mark === '✓' && check.startsWith('RBAC: '))).toHaveLength(KUBE.length);
    expect(table).toEqual(expect.arrayContaining([['✓', 'SQS queue'], ['✓', 'dead-letter queue'], ['✓', 'visibility timeout'], ['✓', 'drain budget']]));
    expect(run.stdout.trim().split('\n').at(-1)).toBe(`${table.length} checks: ${table.length - 1} passed, 0 failed, 1 skipped`);
  });

  it('fails each Kubernetes permission the identity lacks, with the rule to add, and exits non-zero', async () => {
    const i = await enrolled();
    const run = await cli('doctor', '--region', REGION, '--queue-name', i.queue, '--target-scaling-groups', i.groups.join(','), '--local-mode', info.limitedKubeconfigPath);
    expect(run.code).toBe(1);
    const failed = rows(run.stdout).filter(([mark]) => mark === '✗').map(([, check]) => check);
    expect(failed).toEqual(KUBE.map((p) => `RBAC: ${describePermission(p)}`));
    expect(run.stdout).toContain('denied for kubeconfig context \'limited\' (delete the Node after the drain)');
    expect(run.stdout).toContain('fix: add {apiGroups: [""], resources: ["nodes"], verbs: ["delete"]} to the ClusterRole bound to kubeconfig context \'limited\'');
    expect(run.errorLines).toEqual([expect.stringMatching(new RegExp(`^lifecycle-manager: doctor: \\d+ checks: \\d+ passed, ${KUBE.length} failed, 1 skipped; see the fixes above$`, 'u'))]);
  });

  it('--output json: the same checks as one JSON object on stdout, for scripts; exit code 1 when one failed', async () => {
    const i = await enrolled();
    const run = await cli('doctor', '--region', REGION, '--queue-name', i.queue, '--target-scaling-groups', i.groups.join(','), '--local-mode', info.limitedKubeconfigPath, '--output', 'json');
    expect(run.code).toBe(1);
    const report = JSON.parse(run.stdout) as { ok: boolean; summary: Record<string, number>; checks: { check: string; status: string; detail: string; fix?: string }[] };
    expect(report.ok).toBe(false);
    expect(report.checks.filter((c) => c.status === 'fail').map((c) => c.check)).toEqual(KUBE.map((p) => `RBAC: ${describePermission(p)}`));
    expect(report.checks.find((c) => c.check === 'RBAC: delete nodes')?.fix).toBe('add {apiGroups: [""], resources: ["nodes"], verbs: ["delete"]} to the ClusterRole bound to kubeconfig context \'limited\' (the chart\'s rules: deploy/helm/lifecycle-manager/files/clusterrole-rules.yaml)');
    expect(report.summary).toEqual({ checks: report.checks.length, passed: report.checks.length - KUBE.length - 1, failed: KUBE.length, skipped: 1 });
    expect(run.errorLines).toEqual([expect.stringMatching(new RegExp(`^lifecycle-manager: doctor: \\d+ checks: \\d+ passed, ${KUBE.length} failed, 1 skipped$`, 'u'))]);
    const bad = await cli('doctor', '--region', REGION, '--queue-name', i.queue, '--output', 'yaml');
    expect([bad.code, bad.errorLines]).toEqual([1, ['lifecycle-manager: --output must be table or json, got "yaml"']]);
  });

  it('fails exactly the one verb missing from an otherwise complete ClusterRole, with the rule to add', async () => {
    const i = await enrolled();
    const admin = adminKubeConfig(info);
    const rules = shippedClusterRoleRules(info.repoRoot).map((r) => (r.resources?.includes('nodes') ? { ...r, verbs: r.verbs.filter((v) => v !== 'delete') } : r));
    await bindClusterRole(admin, 'lifecycle-manager-without-node-delete', rules, PARTIAL_USER);
    await bindRole(admin, 'lifecycle-manager', 'lifecycle-manager-partial', shippedRoleRules(info.repoRoot), PARTIAL_USER);
    const run = await cli('doctor', '--region', REGION, '--queue-name', i.queue, '--target-scaling-groups', i.groups.join(','), '--local-mode', info.partialKubeconfigPath);
    expect(run.code).toBe(1);
    expect(rows(run.stdout).filter(([mark]) => mark === '✗').map(([, check]) => check)).toEqual(['RBAC: delete nodes']);
    expect(run.stdout).toContain('fix: add {apiGroups: [""], resources: ["nodes"], verbs: ["delete"]} to the ClusterRole bound to kubeconfig context \'partial\'');
  });

  it('fails a missing queue with the enroll command that creates it, and exits non-zero', async () => {
    const id = randomBytes(4).toString('hex');
    const [group] = await createEmptyGroups(aws, 1, `asg-doctor-${id}`);
    const run = await cli('doctor', '--region', REGION, '--queue-name', `lm-missing-${id}`, '--target-scaling-groups', group!, '--local-mode', info.serviceKubeconfigPath);
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(new RegExp(`✗  SQS queue +'lm-missing-${id}' does not exist in ${REGION}\\n +fix: create it with: lifecycle-manager enroll --region ${REGION} --queue-name lm-missing-${id} --notification-role-name <role> --target-scaling-groups ${group}\\n`, 'u'));
    expect(run.stdout).toMatch(new RegExp(`✗  hook on '${group}' +no lifecycle hook 'lifecycle-manager'`, 'u'));
    expect(run.stdout).toMatch(/–  dead-letter queue +no queue to check/u);
    expect(rows(run.stdout).filter(([mark, check]) => mark === '✓' && check.startsWith('RBAC: '))).toHaveLength(KUBE.length);
  });
});
