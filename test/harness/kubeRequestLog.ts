import { readFileSync, writeFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Agent, type Server, createServer, request as httpsRequest } from 'node:https';
import type { AddressInfo } from 'node:net';
import * as k8s from '@kubernetes/client-node';
import { countOpenRequests, readBody } from './faultRules.js';

/** One request the service sent to the apiserver, as it went over the wire. */
export interface RecordedKubeRequest {
  readonly method: string;
  /** Path and query, e.g. `/api/v1/pods?fieldSelector=spec.nodeName%3Dip-10-0-0-1`. */
  readonly url: string;
  readonly startedAtMs: number;
  /** When the apiserver's response headers arrived (the change is committed by then); undefined if it never answered. */
  respondedAtMs: number | undefined;
  status: number | undefined;
  /** The request body, only for requests `captureBody` selected. */
  body: string | undefined;
  /** The fault an `intercept` (test/harness/kubeFaultProxy.ts) injected into this request; undefined if none. */
  fault: string | undefined;
}

export interface KubeRequestLog {
  /** A kubeconfig for the service that points at this recorder (same identity as the one it was made from). */
  readonly kubeconfigPath: string;
  /** Every request so far, in arrival order. */
  readonly requests: readonly RecordedKubeRequest[];
  /** TLS connections the client has opened to the recorder so far (connection reuse shows as fewer than requests). */
  connections(): number;
  /** Requests received and not yet answered in full or abandoned by their client (an open watch counts). */
  open(): number;
  close(): Promise<void>;
}

export interface KubeRequestLogOptions {
  /** The kubeconfig whose current context (server, CA, token) is forwarded to. */
  readonly kubeconfigPath: string;
  /** Where to write the kubeconfig that points at the recorder. */
  readonly outputKubeconfigPath: string;
  /**
   * The apiserver's own serving certificate and key (`<cluster dir>/serving.crt|key`): the recorder serves TLS with
   * them, so the service keeps its kubeconfig's CA and does exactly the TLS work it would do against the apiserver.
   */
  readonly tls: { readonly certFile: string; readonly keyFile: string };
  /** Which requests to keep the body of (bodies are small JSON documents). */
  readonly captureBody?: (method: string, url: string) => boolean;
  /**
   * Sees every request before it is forwarded, its body read in full (what test/harness/kubeFaultProxy.ts builds
   * on): it may delay it, note a `fault` in its record, or answer it itself (then setting the record's status).
   * Resolves to true when the request must not be forwarded (answered, or its client went away).
   */
  readonly intercept?: (record: RecordedKubeRequest, body: Buffer, res: ServerResponse) => Promise<boolean>;
}

/**
 * A recording reverse proxy on 127.0.0.1 in front of the real apiserver, like `kubectl proxy` but passing the
 * client's own credentials through: the service under test talks TLS to it (same certificate as the apiserver's) and
 * it forwards every request unchanged, streaming responses (watches included), and records method, path with query,
 * timing and status.
 * It lets a test see what the service's own call counter cannot tell apart, e.g. a pod LIST with a
 * `spec.nodeName` field selector from one of every pod in the cluster.
 */
export async function startKubeRequestLog(options: KubeRequestLogOptions): Promise<KubeRequestLog> {
  const source = new k8s.KubeConfig();
  source.loadFromFile(options.kubeconfigPath);
  const cluster = source.getCurrentCluster();
  const user = source.getCurrentUser();
  if (!cluster || !user) throw new Error(`${options.kubeconfigPath} has no current cluster or user`);
  const upstream = new URL(cluster.server);
  const ca = cluster.caData ? Buffer.from(cluster.caData, 'base64') : undefined;
  const agent = new Agent({ keepAlive: true, maxSockets: Infinity, ...(ca ? { ca } : { rejectUnauthorized: false }) });
  const requests: RecordedKubeRequest[] = [];

  const receive = (req: IncomingMessage, res: ServerResponse): void => {
    const method = req.method ?? 'GET';
    const url = req.url ?? '/';
    const record: RecordedKubeRequest = { method, url, startedAtMs: Date.now(), respondedAtMs: undefined, status: undefined, body: undefined, fault: undefined };
    requests.push(record);
    const capture = options.captureBody?.(method, url) ?? false;
    const intercept = options.intercept;
    if (intercept) {
      void readBody(req).then(async (body) => {
        if (capture) record.body = body.toString('utf8');
        if (!(await intercept(record, body, res))) forward(req, res, record, body);
      }).catch(() => res.destroy());
      return;
    }
    if (capture) {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => { record.body = Buffer.concat(chunks).toString('utf8'); });
    }
    forward(req, res, record, undefined);
  };

  /** Sends the request on (`body`, or the request's own stream when undefined) and streams the answer back. */
  const forward = (req: IncomingMessage, res: ServerResponse, record: RecordedKubeRequest, body: Buffer | undefined): void => {
    const { method, url } = record;
    const headers = { ...req.headers, host: upstream.host };
    const out = httpsRequest({ hostname: upstream.hostname, port: upstream.port, path: url, method, headers, agent }, (answer) => {
      record.respondedAtMs = Date.now();
      record.status = answer.statusCode;
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      res.flushHeaders(); // a watch's headers must reach the client before its first event does
      answer.pipe(res);
    });
    out.on('error', (e) => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(`kube request recorder: ${e.message}`);
    });
    // A client that goes away (an aborted call, a closed watch) takes its upstream request with it.
    res.on('close', () => { if (!res.writableFinished) out.destroy(); });
    if (body) out.end(body);
    else req.pipe(out);
  };

  const server: Server = createServer({ cert: readFileSync(options.tls.certFile), key: readFileSync(options.tls.keyFile) }, receive);
  const open = countOpenRequests(server);
  let connections = 0;
  server.on('secureConnection', () => { connections++; });
  server.requestTimeout = 0; // watches stay open for many minutes
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;

  const proxied = new k8s.KubeConfig();
  proxied.loadFromOptions({
    clusters: [{ name: 'recorder', server: `https://127.0.0.1:${port}`, skipTLSVerify: false, ...(cluster.caData ? { caData: cluster.caData } : {}) }],
    users: [user],
    contexts: [{ name: 'recorder', cluster: 'recorder', user: user.name }],
    currentContext: 'recorder',
  });
  writeFileSync(options.outputKubeconfigPath, proxied.exportConfig(), { mode: 0o600 });

  return {
    kubeconfigPath: options.outputKubeconfigPath,
    requests,
    connections: () => connections,
    open,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      agent.destroy();
    },
  };
}

/** What a recorded request was, for call-budget checks. */
export type KubeListKind = 'all-nodes-list' | 'node-watch' | 'all-pods-list' | 'pods-on-node-list' | 'pods-on-node-watch' | 'pdb-list' | 'other';

/**
 * Classifies a request: a collection GET of nodes is a LIST of every node (unless a field selector names one node);
 * a collection GET of pods (cluster-wide or in a namespace) without a `spec.nodeName=` field selector is a LIST of
 * all pods; `watch=true` makes it a watch (one with that selector: a node's pod watch). A collection GET of
 * PodDisruptionBudgets (policy/v1, any scope) that is not a watch is a PDB LIST.
 */
export function classifyKubeRequest(method: string, url: string): KubeListKind {
  if (method.toUpperCase() !== 'GET') return 'other';
  const u = new URL(url, 'http://x');
  const path = u.pathname.replace(/\/$/u, '');
  const watch = u.searchParams.get('watch') === 'true' || u.searchParams.get('watch') === '1';
  const fieldSelector = u.searchParams.get('fieldSelector') ?? '';
  if (path === '/api/v1/nodes') {
    if (watch) return 'node-watch';
    return /(^|,)metadata\.name=/u.test(fieldSelector) ? 'other' : 'all-nodes-list';
  }
  if (/^\/api\/v1\/(namespaces\/[^/]+\/)?pods$/u.test(path)) {
    const onNode = /(^|,)spec\.nodeName=[^,]+/u.test(fieldSelector);
    if (watch) return onNode ? 'pods-on-node-watch' : 'other';
    return onNode ? 'pods-on-node-list' : 'all-pods-list';
  }
  if (!watch && /^\/apis\/policy\/v1\/(namespaces\/[^/]+\/)?poddisruptionbudgets$/u.test(path)) return 'pdb-list';
  return 'other';
}
