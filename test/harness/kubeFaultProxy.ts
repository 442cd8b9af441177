import { randomUUID } from 'node:crypto';
import * as k8s from '@kubernetes/client-node';
import { FaultCounter, type FaultSchedule, clientOf, pause } from './faultRules.js';
import { type KubeRequestLog, type KubeRequestLogOptions, startKubeRequestLog } from './kubeRequestLog.js';

/**
 * What the apiserver answers, as a `Status` (application/json) with its reason and code:
 * - server-error: 500 InternalError, `Internal error occurred: …`;
 * - forbidden: 403 Forbidden, worded as the apiserver's authorizer words it (`nodes "x" is forbidden: User "…" cannot
 *   patch resource "nodes" in API group "" at the cluster scope`);
 * - invalid: 422 Invalid, with a FieldValueInvalid cause;
 * - too-many-requests: 429 TooManyRequests with `Retry-After: 1` (details.retryAfterSeconds 1);
 * - hang: read the request and never answer, until the client gives up and closes the connection;
 * - latency: wait `latencyMs` (500 by default), then forward (added up with any other fault that fires).
 */
export type KubeFault = 'server-error' | 'forbidden' | 'invalid' | 'too-many-requests' | 'hang' | 'latency';

export interface KubeFaultRule extends FaultSchedule {
  /** HTTP method, e.g. PATCH (undefined = any). */
  readonly method?: string;
  /** Tested against the request's path with its query string: `/api/v1/nodes/x`, `/api/v1/pods?fieldSelector=…`. */
  readonly path: RegExp;
  /** true: only watches (`watch=true`); false: never a watch; undefined: either. */
  readonly watch?: boolean;
  readonly fault: KubeFault;
  readonly latencyMs?: number;
  /** The Status's whole `message` instead of the apiserver's wording. */
  readonly message?: string;
}

export interface KubeFaultProxyOptions extends Omit<KubeRequestLogOptions, 'intercept'> {
  readonly rules?: readonly KubeFaultRule[];
  /** The user a Forbidden names; by default the kubeconfig's identity as the apiserver sees it (SelfSubjectReview). */
  readonly user?: string;
}

/** A KubeRequestLog whose records also say which fault, if any, was injected (`fault`). */
export interface KubeFaultProxy extends KubeRequestLog {
  /** The user Forbidden answers name. */
  readonly user: string;
  setRules(rules: readonly KubeFaultRule[]): void;
}

/**
 * The kube request recorder (test/harness/kubeRequestLog.ts: TLS with the apiserver's own certificate, the same
 * credentials, streamed responses so watches work) that answers matching requests with the apiserver's own failures
 * (see KubeFault) instead of forwarding them: every Nth, the first N (`times`), only those whose body contains a
 * string. Rules can be changed at any time; requests no rule matches, watches included, pass through unchanged.
 */
export async function startKubeFaultProxy(options: KubeFaultProxyOptions): Promise<KubeFaultProxy> {
  const user = options.user ?? await whoAmI(options.kubeconfigPath);
  let active = [...(options.rules ?? [])];
  const counter = new FaultCounter<KubeFaultRule>();
  const log = await startKubeRequestLog({
    ...options,
    intercept: async (record, body, res) => {
      const client = clientOf(res);
      const watch = isWatch(record.url);
      let delayMs = 0;
      let fail: KubeFaultRule | undefined;
      for (const rule of active) {
        if (rule.method && rule.method.toUpperCase() !== record.method.toUpperCase()) continue;
        if (!matches(rule.path, record.url) || (rule.watch !== undefined && rule.watch !== watch)) continue;
        if (fail && rule.fault !== 'latency') continue; // the first failure wins; later ones keep their counts
        if (!counter.fires(rule, body)) continue;
        if (rule.fault === 'latency') delayMs += rule.latencyMs ?? 500;
        else fail = rule;
      }
      record.fault = fail?.fault ?? (delayMs > 0 ? 'latency' : undefined);
      if (delayMs > 0 && !(await pause(client, delayMs))) return true;
      if (!fail) return false;
      if (fail.fault === 'hang') {
        await client.gone; // close() ends it too
        return true;
      }
      const status = statusFor(fail, requestInfo(record.method, record.url, body), user);
      const text = JSON.stringify(status);
      record.status = status.code;
      record.respondedAtMs = Date.now();
      res.writeHead(status.code, {
        'Audit-Id': randomUUID(), 'Cache-Control': 'no-cache, private', 'Content-Type': 'application/json',
        'X-Content-Type-Options': 'nosniff', 'Content-Length': Buffer.byteLength(text),
        ...(status.details.retryAfterSeconds ? { 'Retry-After': String(status.details.retryAfterSeconds) } : {}),
      });
      res.end(text);
      return true;
    },
  });
  return { ...log, user, setRules: (rules) => { active = [...rules]; } };
}

/** The kubeconfig's identity as the apiserver sees it, for Forbidden messages. */
async function whoAmI(kubeconfigPath: string): Promise<string> {
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(kubeconfigPath);
  try {
    const review = await kc.makeApiClient(k8s.AuthenticationV1Api).createSelfSubjectReview({ body: { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' } });
    const name = review.status?.userInfo?.username;
    if (name) return name;
  } catch {
    // an apiserver without the API, or an identity not allowed to ask: name the kubeconfig's user
  }
  return kc.getCurrentUser()?.name ?? '';
}

function matches(path: RegExp, url: string): boolean {
  path.lastIndex = 0; // a /g or /y pattern keeps state between tests
  return path.test(url);
}

function isWatch(url: string): boolean {
  const watch = new URL(url, 'https://x').searchParams.get('watch');
  return watch === 'true' || watch === '1';
}

/** The apiserver's RequestInfo for a request (k8s.io/apiserver/pkg/endpoints/request); undefined for non-resource paths. */
interface RequestInfo {
  readonly path: string;
  readonly verb: string;
  readonly group: string;
  readonly resource: string;
  readonly subresource: string;
  readonly namespace: string;
  /** From the path; for a create, from the body's metadata.name (`objectName`). */
  readonly name: string;
  readonly objectName: string;
}

function requestInfo(method: string, url: string, body: Buffer): RequestInfo {
  const u = new URL(url, 'https://x');
  const parts = u.pathname.split('/').filter(Boolean).map(decodeURIComponent);
  const watch = isWatch(url);
  let rest = parts[0] === 'api' ? parts.slice(2) : parts[0] === 'apis' ? parts.slice(3) : [];
  const group = parts[0] === 'apis' ? parts[1] ?? '' : '';
  let namespace = '';
  if (rest[0] === 'namespaces' && rest.length > 1) {
    namespace = rest[1]!;
    if (rest.length > 2) rest = rest.slice(2);
  }
  const [resource = '', pathName = '', subresource = ''] = rest;
  // A list or watch of one object by field selector names it, as the apiserver's RequestInfo does.
  const name = pathName || (/^metadata\.name==?([^,]+)$/u.exec(u.searchParams.get('fieldSelector') ?? '')?.[1] ?? '');
  const m = method.toUpperCase();
  const verb = parts[0] !== 'api' && parts[0] !== 'apis' ? m.toLowerCase()
    : watch ? 'watch'
    : m === 'GET' ? (pathName ? 'get' : 'list')
    : m === 'POST' ? 'create' : m === 'PUT' ? 'update' : m === 'PATCH' ? 'patch'
    : m === 'DELETE' ? (pathName ? 'delete' : 'deletecollection') : m.toLowerCase();
  let objectName = name;
  if (!objectName && body.length > 0) {
    try {
      objectName = (JSON.parse(body.toString('utf8')) as { metadata?: { name?: string } }).metadata?.name ?? '';
    } catch { /* not JSON */ }
  }
  return { path: u.pathname, verb, group, resource, subresource, namespace, name, objectName };
}

interface StatusDetails { name?: string; group?: string; kind?: string; causes?: Array<{ reason?: string; message: string; field?: string }>; retryAfterSeconds?: number }
interface Status { kind: 'Status'; apiVersion: 'v1'; metadata: Record<string, never>; status: 'Failure'; message: string; reason: string; details: StatusDetails; code: number }

/** The Status the apiserver's own errors (k8s.io/apimachinery/pkg/api/errors) carry, field for field, in its order. */
function statusFor(rule: KubeFaultRule, info: RequestInfo, user: string): Status {
  const status = (code: number, reason: string, message: string, details: StatusDetails): Status => ({
    kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: rule.message ?? message, reason, details: compact(details), code,
  });
  switch (rule.fault) {
    case 'forbidden': {
      const resource = info.subresource ? `${info.resource}/${info.subresource}` : info.resource;
      const qualified = info.group ? `${info.resource}.${info.group}` : info.resource;
      const why = !info.resource ? `User ${q(user)} cannot ${info.verb} path ${q(info.path)}`
        : `User ${q(user)} cannot ${info.verb} resource ${q(resource)} in API group ${q(info.group)} ${info.namespace ? `in the namespace ${q(info.namespace)}` : 'at the cluster scope'}`;
      const message = !qualified ? `forbidden: ${why}` : info.name ? `${qualified} ${q(info.name)} is forbidden: ${why}` : `${qualified} is forbidden: ${why}`;
      return status(403, 'Forbidden', message, { name: info.name, group: info.group, kind: info.resource });
    }
    case 'invalid': {
      const { kind, group } = kindOf(info);
      const cause = { reason: 'FieldValueInvalid', message: `Invalid value: ${q(info.objectName)}: injected fault`, field: 'metadata.name' };
      return status(422, 'Invalid', `${group ? `${kind}.${group}` : kind} ${q(info.objectName)} is invalid: ${cause.field}: ${cause.message}`,
        { name: info.objectName, group, kind, causes: [cause] });
    }
    case 'too-many-requests':
      return status(429, 'TooManyRequests', 'Too many requests, please try again later.', { retryAfterSeconds: 1 });
    default:
      return status(500, 'InternalError', 'Internal error occurred: injected fault', { causes: [{ message: rule.message ?? 'injected fault' }] });
  }
}

/** Go's %q for the plain strings of these messages. */
function q(s: string): string {
  return JSON.stringify(s);
}

/** Omits empty fields, as the Go structs' `omitempty` does. */
function compact(details: StatusDetails): StatusDetails {
  return Object.fromEntries(Object.entries(details).filter(([, v]) => v !== '' && v !== undefined)) as StatusDetails;
}

const KINDS: Record<string, string> = {
  nodes: 'Node', pods: 'Pod', leases: 'Lease', events: 'Event', namespaces: 'Namespace', configmaps: 'ConfigMap',
  secrets: 'Secret', services: 'Service', poddisruptionbudgets: 'PodDisruptionBudget',
};

/** The kind an Invalid names: the resource's, or for pods/eviction the Eviction's (policy). */
function kindOf(info: RequestInfo): { kind: string; group: string } {
  if (info.resource === 'pods' && info.subresource === 'eviction') return { kind: 'Eviction', group: 'policy' };
  const kind = KINDS[info.resource] ?? info.resource.replace(/s$/u, '').replace(/^./u, (c) => c.toUpperCase());
  return { kind, group: info.group };
}
