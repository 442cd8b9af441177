import { createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export type Fault = 'throttle' | 'server-error' | 'latency';

export interface FaultRule {
  /** SigV4 signing name: sqs, autoscaling, elasticloadbalancing, … (undefined = any). */
  readonly service?: string;
  /** API operation, e.g. RecordLifecycleActionHeartbeat (undefined = any). */
  readonly operation?: string;
  /** Inject on every Nth matching request (1 = all). */
  readonly every: number;
  readonly fault: Fault;
  readonly latencyMs?: number;
}

export interface FaultProxy {
  readonly endpoint: string;
  /** Faults injected so far, by `service:operation:fault`. */
  readonly injected: Map<string, number>;
  /** Requests forwarded, by `service:operation`. */
  readonly forwarded: Map<string, number>;
  setRules(rules: readonly FaultRule[]): void;
  close(): Promise<void>;
}

/**
 * An HTTP proxy between the AWS SDK and the emulator that injects AWS-shaped failures: ThrottlingException
 * (AWS JSON for SQS, the query protocol's XML for the others), 503s and latency, deterministically on every Nth
 * matching request. Loopback only.
 */
export async function startFaultProxy(target: string, rules: readonly FaultRule[] = []): Promise<FaultProxy> {
  const upstream = new URL(target);
  let active = [...rules];
  const matches = new Map<FaultRule, number>();
  const injected = new Map<string, number>();
  const forwarded = new Map<string, number>();
  const bump = (m: Map<string, number>, k: string): void => { m.set(k, (m.get(k) ?? 0) + 1); };

  const server: Server = createServer((req, res) => {
    void (async () => {
      const body = await readBody(req);
      const { service, operation, json } = describe(req, body);
      let delayMs = 0;
      let fail: Fault | undefined;
      for (const rule of active) {
        if ((rule.service && rule.service !== service) || (rule.operation && rule.operation !== operation)) continue;
        const n = (matches.get(rule) ?? 0) + 1;
        matches.set(rule, n);
        if (n % rule.every !== 0) continue;
        bump(injected, `${service}:${operation}:${rule.fault}`);
        if (rule.fault === 'latency') delayMs += rule.latencyMs ?? 500;
        else fail ??= rule.fault;
      }
      if (delayMs > 0) await new Promise((r) => setTimeout(r, delayMs));
      if (fail) {
        const status = fail === 'throttle' ? 400 : 503;
        const code = fail === 'throttle' ? (json ? 'ThrottlingException' : 'Throttling') : 'ServiceUnavailable';
        const message = fail === 'throttle' ? 'Rate exceeded' : 'injected fault';
        if (json) {
          res.writeHead(status, { 'Content-Type': 'application/x-amz-json-1.0', 'x-amzn-query-error': `${code};${fail === 'throttle' ? 'Sender' : 'Receiver'}` });
          res.end(JSON.stringify({ __type: `com.amazonaws.sqs#${code}`, message }));
        } else {
          res.writeHead(status, { 'Content-Type': 'text/xml' });
          res.end(`<ErrorResponse><Error><Type>${fail === 'throttle' ? 'Sender' : 'Receiver'}</Type><Code>${code}</Code><Message>${message}</Message></Error><RequestId>injected</RequestId></ErrorResponse>`);
        }
        return;
      }
      bump(forwarded, `${service}:${operation}`);
      const out = httpRequest({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers }, (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      });
      out.on('error', () => { if (!res.headersSent) res.writeHead(502); res.end(); });
      out.end(body);
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    injected,
    forwarded,
    setRules: (r) => { active = [...r]; },
    close: () => new Promise<void>((resolve) => { server.close(() => resolve()); server.closeAllConnections(); }),
  };
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function describe(req: IncomingMessage, body: Buffer): { service: string; operation: string; json: boolean } {
  const auth = String(req.headers['authorization'] ?? '');
  const service = /Credential=[^/]+\/[^/]+\/[^/]+\/([^/]+)\//u.exec(auth)?.[1] ?? 'unknown';
  const target = req.headers['x-amz-target'];
  if (typeof target === 'string') return { service, operation: target.split('.').pop() ?? target, json: true };
  const action = new URLSearchParams(body.toString('utf8')).get('Action') ?? 'unknown';
  return { service, operation: action, json: false };
}
