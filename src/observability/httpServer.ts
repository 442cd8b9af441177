import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Metrics } from './metrics.js';

export interface Probes {
  /** Liveness: the process is running its loops. */
  live(): boolean;
  /** Readiness: the queue is reachable and the node cache has synced. Returns the reasons it is not. */
  notReadyReasons(): string[];
}

/** Serves `/metrics`, `/healthz` and `/readyz`. `address` is `[host]:port` (`:8080` = all interfaces). */
export async function startHttpServer(address: string, metrics: Metrics, probes: Probes): Promise<{ server: Server; port: number; close: () => Promise<void> }> {
  const { host, port } = parseListenAddress(address);
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/metrics') {
      metrics.registry.metrics().then((body) => {
        res.writeHead(200, { 'Content-Type': metrics.registry.contentType });
        res.end(body);
      }, (e: unknown) => {
        res.writeHead(500);
        res.end(String(e));
      });
      return;
    }
    if (path === '/healthz') {
      const ok = probes.live();
      res.writeHead(ok ? 200 : 503, { 'Content-Type': 'text/plain' });
      res.end(ok ? 'ok\n' : 'not live\n');
      return;
    }
    if (path === '/readyz') {
      const reasons = probes.notReadyReasons();
      res.writeHead(reasons.length === 0 ? 200 : 503, { 'Content-Type': 'text/plain' });
      res.end(reasons.length === 0 ? 'ok\n' : `${reasons.join('\n')}\n`);
      return;
    }
    res.writeHead(404);
    res.end();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const bound = (server.address() as AddressInfo).port;
  return {
    server,
    port: bound,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}

export function parseListenAddress(address: string): { host: string | undefined; port: number } {
  const m = /^(?:\[?([^\]]*)\]?)?:(\d+)$/u.exec(address.trim());
  if (!m) throw new Error(`not a listen address (want [host]:port): ${address}`);
  const port = Number(m[2]);
  if (port > 65535) throw new Error(`port out of range: ${address}`);
  return { host: m[1] ? m[1] : undefined, port };
}
