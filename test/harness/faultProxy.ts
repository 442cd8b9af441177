import { randomUUID } from 'node:crypto';
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { FaultCounter, type FaultSchedule, clientOf, countOpenRequests, pause, readBody } from './faultRules.js';

/**
 * - throttle: 400 Throttling (query protocol) / ThrottlingException (SQS's JSON), retryable;
 * - server-error: 503 ServiceUnavailable;
 * - access-denied: 403 AccessDenied, `User: … is not authorized to perform: <service>:<operation> …`;
 * - validation: 400 ValidationError with `message` (by default not AWS's "No active Lifecycle Action found" one);
 * - hang: read the request and never answer, until the client gives up and closes the connection;
 * - latency: wait `latencyMs` (500 by default), then forward (added up with any other fault that fires).
 */
export type Fault = 'throttle' | 'server-error' | 'access-denied' | 'validation' | 'hang' | 'latency';

export interface FaultRule extends FaultSchedule {
  /** SigV4 signing name: sqs, autoscaling, elasticloadbalancing, … (undefined = any). */
  readonly service?: string;
  /** API operation, e.g. RecordLifecycleActionHeartbeat (undefined = any). */
  readonly operation?: string;
  readonly fault: Fault;
  readonly latencyMs?: number;
  /** The error's message instead of the default one. */
  readonly message?: string;
}

/** One request the proxy saw. */
export interface ProxiedAwsRequest {
  readonly service: string;
  readonly operation: string;
  readonly startedAtMs: number;
  /** The fault injected (a failure wins over latency); undefined if none. */
  readonly fault: Fault | undefined;
  /** What the client was answered (by the proxy or the emulator); undefined while open or if never answered. */
  status: number | undefined;
}

export interface FaultProxy {
  readonly endpoint: string;
  /** Faults injected so far, by `service:operation:fault`. */
  readonly injected: Map<string, number>;
  /** Requests forwarded, by `service:operation`. */
  readonly forwarded: Map<string, number>;
  /** Every request so far, in arrival order. */
  readonly requests: readonly ProxiedAwsRequest[];
  /** Requests received and not yet answered or abandoned by their client (a hung request counts until it is closed). */
  open(): number;
  setRules(rules: readonly FaultRule[]): void;
  close(): Promise<void>;
}

/**
 * An HTTP proxy between the AWS SDK and the emulator that injects AWS-shaped failures (see Fault) on matching
 * requests, deterministically: every Nth, the first N (`times`), only those whose body names one resource
 * (`bodyIncludes`). Loopback only.
 */
export async function startFaultProxy(target: string, rules: readonly FaultRule[] = []): Promise<FaultProxy> {
  const upstream = new URL(target);
  let active = [...rules];
  const counter = new FaultCounter<FaultRule>();
  const injected = new Map<string, number>();
  const forwarded = new Map<string, number>();
  const requests: ProxiedAwsRequest[] = [];
  const bump = (m: Map<string, number>, k: string): void => { m.set(k, (m.get(k) ?? 0) + 1); };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const client = clientOf(res);
    const body = await readBody(req);
    const { service, operation, json } = describe(req, body);
    let delayMs = 0;
    let fail: FaultRule | undefined;
    for (const rule of active) {
      if ((rule.service && rule.service !== service) || (rule.operation && rule.operation !== operation)) continue;
      if (fail && rule.fault !== 'latency') continue; // the first failure wins; later ones keep their counts
      if (!counter.fires(rule, body)) continue;
      bump(injected, `${service}:${operation}:${rule.fault}`);
      if (rule.fault === 'latency') delayMs += rule.latencyMs ?? 500;
      else fail = rule;
    }
    const record: ProxiedAwsRequest = { service, operation, startedAtMs: Date.now(), fault: fail?.fault ?? (delayMs > 0 ? 'latency' : undefined), status: undefined };
    requests.push(record);
    if (delayMs > 0 && !(await pause(client, delayMs))) return;
    if (fail?.fault === 'hang') {
      await client.gone; // closeAllConnections() at close() ends it too
      return;
    }
    if (fail) {
      const error = awsError(fail, service, operation, json);
      record.status = error.status;
      const requestId = randomUUID();
      if (json) {
        res.writeHead(error.status, { 'Content-Type': 'application/x-amz-json-1.0', 'x-amzn-RequestId': requestId, 'x-amzn-query-error': `${error.code};${error.type}` });
        res.end(JSON.stringify({ __type: `com.amazonaws.sqs#${error.code}`, message: error.message }));
      } else {
        res.writeHead(error.status, { 'Content-Type': 'text/xml', 'x-amzn-RequestId': requestId });
        res.end(`<ErrorResponse><Error><Type>${error.type}</Type><Code>${error.code}</Code><Message>${escapeXml(error.message)}</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`);
      }
      return;
    }
    bump(forwarded, `${service}:${operation}`);
    const out = httpRequest({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers }, (up) => {
      record.status = up.statusCode;
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    out.on('error', () => { if (!res.headersSent) res.writeHead(502); res.end(); });
    res.on('close', () => { if (!res.writableFinished) out.destroy(); });
    out.end(body);
  };

  const server: Server = createServer((req, res) => {
    void handle(req, res).catch(() => res.destroy());
  });
  const open = countOpenRequests(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    injected,
    forwarded,
    requests,
    open,
    setRules: (r) => { active = [...r]; },
    close: () => new Promise<void>((resolve) => { server.close(() => resolve()); server.closeAllConnections(); }),
  };
}

interface AwsError { readonly status: number; readonly code: string; readonly type: 'Sender' | 'Receiver'; readonly message: string }

/** The status, code and message AWS answers with for a fault, per protocol (SQS speaks JSON, the others XML). */
function awsError(rule: FaultRule, service: string, operation: string, json: boolean): AwsError {
  const sender = (status: number, code: string, message: string): AwsError => ({ status, code, type: 'Sender', message: rule.message ?? message });
  switch (rule.fault) {
    case 'throttle': return sender(400, json ? 'ThrottlingException' : 'Throttling', 'Rate exceeded');
    case 'access-denied': {
      // IAM names SQS actions in lower case in this message (sqs:receivemessage).
      const action = `${service}:${service === 'sqs' ? operation.toLowerCase() : operation}`;
      return sender(403, 'AccessDenied', `User: arn:aws:sts::123456789012:assumed-role/test is not authorized to perform: ${action} because no identity-based policy allows the ${action} action`);
    }
    case 'validation': return sender(400, 'ValidationError', `1 validation error detected: injected ValidationError for ${operation}`);
    default: return { status: 503, code: 'ServiceUnavailable', type: 'Receiver', message: rule.message ?? 'injected fault' };
  }
}

function escapeXml(s: string): string {
  return s.replace(/&/gu, '&amp;').replace(/</gu, '&lt;').replace(/>/gu, '&gt;');
}

function describe(req: IncomingMessage, body: Buffer): { service: string; operation: string; json: boolean } {
  const auth = String(req.headers['authorization'] ?? '');
  const service = /Credential=[^/]+\/[^/]+\/[^/]+\/([^/]+)\//u.exec(auth)?.[1] ?? 'unknown';
  const target = req.headers['x-amz-target'];
  if (typeof target === 'string') return { service, operation: target.split('.').pop() ?? target, json: true };
  const action = new URLSearchParams(body.toString('utf8')).get('Action') ?? 'unknown';
  return { service, operation: action, json: false };
}
