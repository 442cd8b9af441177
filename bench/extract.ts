import { readFileSync } from 'node:fs';
import { type RecordedKubeRequest, classifyKubeRequest } from '../test/harness/kubeRequestLog.js';

const RECEIVED_AT = 'lifecycle-manager.io/received-at';
const ACTION = 'lifecycle-manager.io/action';

const ok = (r: RecordedKubeRequest): boolean => r.status !== undefined && r.status >= 200 && r.status < 300;

/**
 * When the service received each action's SQS message, per instance: the `received-at` annotation of the Lease it
 * creates for the action (set from its clock when the message was handed to the workflow, before any AWS or
 * Kubernetes call for it), read from the body of the Lease POST the recorder saw.
 */
export function receiptTimes(requests: readonly RecordedKubeRequest[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const r of requests) {
    if (r.method !== 'POST' || !/\/leases(\?|$)/u.test(r.url) || !ok(r) || !r.body) continue;
    try {
      const annotations = (JSON.parse(r.body) as { metadata?: { annotations?: Record<string, string> } }).metadata?.annotations ?? {};
      const instanceId = (JSON.parse(annotations[ACTION] ?? '{}') as { instanceId?: string }).instanceId;
      const at = Date.parse(annotations[RECEIVED_AT] ?? '');
      if (instanceId && Number.isFinite(at) && !out.has(instanceId)) out.set(instanceId, at);
    } catch {
      // not a lease body we understand
    }
  }
  return out;
}

/** When each node was cordoned: the apiserver's answer to the first successful PATCH setting spec.unschedulable. */
export function cordonTimes(requests: readonly RecordedKubeRequest[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const r of requests) {
    const m = /^\/api\/v1\/nodes\/([^/?]+)(\?|$)/u.exec(r.url);
    if (r.method !== 'PATCH' || !m || !ok(r) || !r.body?.includes('"unschedulable":true') || r.respondedAtMs === undefined) continue;
    const node = decodeURIComponent(m[1]!);
    if (!out.has(node)) out.set(node, r.respondedAtMs);
  }
  return out;
}

/** LIST/watch counts that tell the informer's node LISTs and per-node pod LISTs from cluster-wide ones. */
export function listCounts(requests: readonly RecordedKubeRequest[]): { allNodesLists: number; nodeWatches: number; allPodsLists: number; podsOnNodeLists: number; podsOnNodeWatches: number; pdbLists: number } {
  const c = { allNodesLists: 0, nodeWatches: 0, allPodsLists: 0, podsOnNodeLists: 0, podsOnNodeWatches: 0, pdbLists: 0 };
  for (const r of requests) {
    switch (classifyKubeRequest(r.method, r.url)) {
      case 'all-nodes-list': c.allNodesLists++; break;
      case 'node-watch': c.nodeWatches++; break;
      case 'all-pods-list': c.allPodsLists++; break;
      case 'pods-on-node-list': c.podsOnNodeLists++; break;
      case 'pods-on-node-watch': c.podsOnNodeWatches++; break;
      case 'pdb-list': c.pdbLists++; break;
      default: break;
    }
  }
  return c;
}

export interface LogTimes {
  /** Per instance: when the service logged its load-balancer deregistration finished (every target out). */
  readonly deregistrationDoneAtMs: Map<string, number>;
  /** Per instance and target group name: when the service logged that group's targets gone. */
  readonly targetGroupDoneAtMs: Map<string, Map<string, number>>;
  /** Per instance: how long discovery took (`found N load balancers holding the instance in S s`), ms. */
  readonly discoveryMs: Map<string, number>;
}

/** Reads the service's JSON log (`--log-format json`: ISO times with milliseconds). */
export function logTimes(logFile: string): LogTimes {
  const deregistrationDoneAtMs = new Map<string, number>();
  const targetGroupDoneAtMs = new Map<string, Map<string, number>>();
  const discoveryMs = new Map<string, number>();
  for (const line of readFileSync(logFile, 'utf8').split('\n')) {
    if (!line.startsWith('{')) continue;
    let entry: { time?: string; msg?: string; instanceId?: string };
    try {
      entry = JSON.parse(line) as typeof entry;
    } catch {
      continue;
    }
    const at = Date.parse(entry.time ?? '');
    if (!entry.instanceId || !entry.msg || !Number.isFinite(at)) continue;
    if (/^deregistered from \d+ target groups and \d+ classic load balancers$/u.test(entry.msg)) {
      deregistrationDoneAtMs.set(entry.instanceId, at);
    }
    const found = /^found \d+ load balancers holding the instance in ([\d.]+)s$/u.exec(entry.msg);
    if (found) discoveryMs.set(entry.instanceId, Math.round(Number(found[1]) * 1000));
    const group = /^deregistered \S+ from target group (\S+) after [\d.]+s$/u.exec(entry.msg);
    if (group) {
      const byGroup = targetGroupDoneAtMs.get(entry.instanceId) ?? new Map<string, number>();
      byGroup.set(group[1]!, at);
      targetGroupDoneAtMs.set(entry.instanceId, byGroup);
    }
  }
  return { deregistrationDoneAtMs, targetGroupDoneAtMs, discoveryMs };
}
