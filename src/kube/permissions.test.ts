import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as k8s from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { KUBE_PERMISSIONS, LEASE_PERMISSIONS, describePermission, permissionKey, servicePermissions, splitResource } from './permissions.js';

const chartFile = (name: string): string => fileURLToPath(new URL(`../../deploy/helm/lifecycle-manager/files/${name}`, import.meta.url));

/** Every (apiGroup, resource, verb) a list of RBAC rules grants. */
function granted(rules: readonly k8s.V1PolicyRule[]): string[] {
  return rules.flatMap((rule) => (rule.apiGroups ?? ['']).flatMap((apiGroup) => (rule.resources ?? []).flatMap((resource) =>
    rule.verbs.map((verb) => permissionKey({ apiGroup, resource, verb })))));
}

describe('KUBE_PERMISSIONS', () => {
  it('is exactly the set the shipped ClusterRole grants (a verb added on one side only fails here)', () => {
    const fromChart = granted(k8s.loadYaml<k8s.V1PolicyRule[]>(readFileSync(chartFile('clusterrole-rules.yaml'), 'utf8')));
    expect(new Set(fromChart).size).toBe(fromChart.length); // no rule grants the same thing twice
    expect([...new Set(fromChart)].sort()).toEqual(KUBE_PERMISSIONS.map(permissionKey).sort());
  });

  it('with LEASE_PERMISSIONS, is exactly what the shipped Role grants in the release namespace', () => {
    const fromChart = granted(k8s.loadYaml<k8s.V1PolicyRule[]>(readFileSync(chartFile('role-rules.yaml'), 'utf8')));
    expect([...new Set(fromChart)].sort()).toEqual(LEASE_PERMISSIONS.map(permissionKey).sort());
    expect(servicePermissions('ops').filter((p) => p.grantedBy === 'Role').every((p) => p.namespace === 'ops')).toBe(true);
  });

  it('lists each permission once, with a reason', () => {
    const keys = servicePermissions('x').map(permissionKey);
    expect(new Set(keys).size).toBe(keys.length);
    for (const p of servicePermissions('x')) expect(p.why.length).toBeGreaterThan(0);
  });

  it('splits a subresource the way SelfSubjectAccessReview wants it and names permissions readably', () => {
    expect(splitResource('pods/eviction')).toEqual({ resource: 'pods', subresource: 'eviction' });
    expect(splitResource('nodes')).toEqual({ resource: 'nodes', subresource: undefined });
    expect(describePermission({ apiGroup: '', resource: 'events', verb: 'create', namespace: 'default', why: 'x' })).toBe('create events in default');
    expect(describePermission({ apiGroup: 'coordination.k8s.io', resource: 'leases', verb: 'get', namespace: 'ops', why: 'x' })).toBe('get leases in ops');
  });
});
