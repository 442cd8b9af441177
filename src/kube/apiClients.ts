import * as https from 'node:https';
import * as k8s from './k8s.js';
import { TransientError } from '../lifecycle/errors.js';
import { linkedSignal } from '../lifecycle/sleep.js';
import type { Metrics } from '../observability/metrics.js';
import { AuthorizerWarmup } from './authorizerWarmup.js';

/** The Kubernetes API clients the service uses, all sharing one counting middleware. */
export interface KubeClients {
  readonly kubeConfig: k8s.KubeConfig;
  readonly core: k8s.CoreV1Api;
  readonly coordination: k8s.CoordinationV1Api;
  readonly authorization: k8s.AuthorizationV1Api;
  /** Custom resources (TargetGroupBindings of the AWS Load Balancer Controller). */
  readonly custom: k8s.CustomObjectsApi;
  readonly policy: k8s.PolicyV1Api;
  readonly storage: k8s.StorageV1Api;
  /** Sees every response made with `options`, so a 403 from an apiserver that just restarted can be told from a missing permission. */
  readonly authorizerWarmup: AuthorizerWarmup;
  /** Per-call options: honour `signal`, show the response to the AuthorizerWarmup, then `extra`. */
  options(signal: AbortSignal, extra?: k8s.Middleware): k8s.ConfigurationOptions;
  /**
   * Runs one API request bounded by the per-call timeout (--api-timeout) as well as by `signal`: a request the
   * apiserver does not answer in time is abandoned and surfaces as a TransientError naming `operation`, so callers
   * retry it like a 5xx instead of waiting forever.
   */
  call<T>(signal: AbortSignal, operation: string, run: (options: k8s.ConfigurationOptions) => Promise<T>, extra?: k8s.Middleware): Promise<T>;
}

/** Bound on one Kubernetes API request unless --api-timeout says otherwise. */
export const DEFAULT_CALL_TIMEOUT_MS = 30_000;

/**
 * Builds API clients whose every request is counted in `lifecycle_manager_kube_api_calls_total{verb,resource}`.
 * Counting happens in a client middleware, so the count is exactly what was sent to the apiserver; the same
 * per-call options show every response to the AuthorizerWarmup.
 */
export function createKubeClients(kubeConfig: k8s.KubeConfig, metrics: Metrics, authorizerWarmup = new AuthorizerWarmup(), callTimeoutMs = DEFAULT_CALL_TIMEOUT_MS): KubeClients {
  const cluster = kubeConfig.getCurrentCluster();
  if (!cluster) throw new Error('the kubeconfig has no current cluster');
  const agents = new KeepAliveAgents();
  const counting: k8s.Middleware = {
    pre: async (context) => {
      const { verb, resource } = describeRequest(context.getHttpMethod(), context.getUrl());
      metrics.kubeCalls.inc({ verb, resource });
      agents.reuse(context);
      return context;
    },
    post: async (context) => context,
  };
  // Every answer that is an error, by the request it answers: `lifecycle_manager_api_errors_total{api="kubernetes"}`.
  const observer: ResponseObserver = {
    observe: (request, status, headers) => {
      authorizerWarmup.observe(request, status, headers);
      if (status >= 400) metrics.apiErrors.inc({ api: 'kubernetes', operation: request, code: String(status) });
    },
  };
  const make = <T>(api: new (config: k8s.Configuration) => T): T =>
    new api(k8s.createConfiguration({
      baseServer: new k8s.ServerConfiguration(cluster.server, {}),
      authMethods: { default: kubeConfig },
      promiseMiddleware: [counting],
    }));
  return { kubeConfig, core: make(k8s.CoreV1Api), coordination: make(k8s.CoordinationV1Api), authorization: make(k8s.AuthorizationV1Api), custom: make(k8s.CustomObjectsApi),
    policy: make(k8s.PolicyV1Api), storage: make(k8s.StorageV1Api),
    authorizerWarmup,
    options: (signal, extra) => withSignal(signal, extra, observer),
    call: async (signal, operation, run, extra) => {
      const bounded = linkedSignal([signal], callTimeoutMs);
      let request = '';
      try {
        return await run(withSignal(bounded.signal, extra, { observe: (r, status, headers) => { request = r; observer.observe(r, status, headers); }, sent: (r) => { request = r; } }));
      } catch (e) {
        if (bounded.signal.aborted && !signal.aborted) {
          metrics.apiErrors.inc({ api: 'kubernetes', operation: request || 'unknown', code: 'timeout' });
          throw new TransientError(`${operation}: no answer from the apiserver within ${callTimeoutMs / 1000}s`, false, { cause: e });
        }
        throw e;
      } finally {
        bounded.dispose();
      }
    },
  };
}

/** Sees each request as it is sent ("verb resource") and its answer. */
export interface ResponseObserver {
  observe(request: string, httpStatus: number, headers: object): void;
  sent?(request: string): void;
}

/**
 * Per-call options that make the request honour `signal` (the client keeps no per-request signal otherwise) and,
 * given a `warmup`, show it the request's verb and resource with the response; appended to the client's own
 * middleware (the call counter). Per call, because only a per-call middleware sees both a request and its response.
 * The object-style API runs Observable middleware.
 */
export function withSignal(signal: AbortSignal, extra?: k8s.Middleware, observer?: ResponseObserver): k8s.ConfigurationOptions {
  let request = '';
  const perCall: k8s.Middleware = {
    pre: async (context) => {
      context.setSignal(signal);
      const { verb, resource } = describeRequest(context.getHttpMethod(), context.getUrl());
      request = `${verb} ${resource}`;
      observer?.sent?.(request);
      return context;
    },
    post: async (context) => {
      observer?.observe(request, context.httpStatusCode, context.headers);
      return context;
    },
  };
  return { middleware: (extra ? [perCall, extra] : [perCall]).map(toObservable), middlewareMergeStrategy: 'append' };
}

function toObservable(m: k8s.Middleware): k8s.ObservableMiddleware {
  return {
    pre: (context) => new k8s.Observable(m.pre(context)),
    post: (context) => new k8s.Observable(m.post(context)),
  };
}

/**
 * Connections to the apiserver for requests (each watch has its own): each holds tens of KiB of TLS buffers. With
 * 32 requests in flight the apiserver is kept busy; more would only wait in its queues instead of ours.
 */
const MAX_SOCKETS = 32;

/**
 * client-node 1.4 builds a new HTTPS agent for every request, so every API call paid a TLS handshake (11,730
 * handshakes in the 500-termination benchmark, most of its CPU and memory). This swaps in one keep-alive agent
 * per distinct TLS identity (CA, client certificate and key), built from the options of the per-request agent, so
 * rotated client certificates still take effect. Proxy agents are left alone.
 */
class KeepAliveAgents {
  private shared: { agent: https.Agent; options: https.AgentOptions } | undefined;

  reuse(context: k8s.RequestContext): void {
    const fresh = context.getAgent();
    if (!(fresh instanceof https.Agent) || fresh.constructor !== https.Agent) return;
    const options = (fresh as https.Agent & { options: https.AgentOptions }).options;
    if (!this.shared || !sameIdentity(this.shared.options, options)) {
      this.shared?.agent.destroy();
      this.shared = { agent: new https.Agent({ ...options, keepAlive: true, maxSockets: MAX_SOCKETS }), options };
    }
    context.setAgent(this.shared.agent);
  }
}

function sameIdentity(a: https.AgentOptions, b: https.AgentOptions): boolean {
  const same = (x: unknown, y: unknown): boolean => (Buffer.isBuffer(x) && Buffer.isBuffer(y) ? x.equals(y) : x === y);
  return same(a.ca, b.ca) && same(a.cert, b.cert) && same(a.key, b.key) && same(a.pfx, b.pfx)
    && a.rejectUnauthorized === b.rejectUnauthorized && a.servername === b.servername;
}

/** "GET /api/v1/nodes/x" → { verb: 'get', resource: 'nodes' }; lists and subresources are told apart. */
export function describeRequest(method: string, url: string): { verb: string; resource: string } {
  const u = new URL(url);
  const parts = u.pathname.split('/').filter(Boolean);
  // /api/v1/... or /apis/<group>/<version>/...
  const rest = parts[0] === 'api' ? parts.slice(2) : parts.slice(3);
  let i = 0;
  if (rest[0] === 'namespaces' && rest.length > 2) i = 2;
  const resource = rest[i] ?? 'unknown';
  const hasName = rest.length > i + 1;
  const sub = rest.length > i + 2 ? `/${rest[i + 2]}` : '';
  const watch = u.searchParams.get('watch') === 'true' || u.searchParams.get('watch') === '1';
  const m = method.toUpperCase();
  const verb = watch ? 'watch'
    : m === 'GET' ? (hasName ? 'get' : 'list')
    : m === 'POST' ? 'create' : m === 'PUT' ? 'update' : m === 'PATCH' ? 'patch' : m === 'DELETE' ? 'delete' : m.toLowerCase();
  return { verb, resource: `${resource}${sub}` };
}
