import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import { type Socket, connect } from 'node:net';

/**
 * A webhook receiver on 127.0.0.1 that misbehaves on purpose: each request gets what `answer` decides — a status
 * (5xx, 429 with Retry-After…), the same after a delay (a slow server), or no answer at all (a stalled one, held
 * open until the server closes). Records every request it got.
 */
export type Answer =
  | { readonly status: number; readonly delayMs?: number; readonly headers?: Record<string, string> }
  | 'stall';

export interface ReceivedHook {
  readonly path: string;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly body: string;
  /** The body parsed as JSON; undefined when it is not JSON. */
  readonly json: unknown;
  /** The status sent back; undefined while unanswered (stalled, or still waiting out its delay). */
  answeredWith: number | undefined;
  /** When the request's body had arrived, and when it was answered (epoch ms). */
  readonly atMs: number;
  answeredAtMs: number | undefined;
}

export class WebhookServer {
  readonly received: ReceivedHook[] = [];
  /** Decides each request's answer (`index` counts from 0, over every request). Default: 200. */
  answer: (hook: ReceivedHook, index: number) => Answer = () => ({ status: 200 });
  private readonly open = new Set<ServerResponse>();
  private readonly timers = new Set<NodeJS.Timeout>();

  private constructor(private readonly server: Server, readonly port: number) {}

  static async start(): Promise<WebhookServer> {
    let self: WebhookServer | undefined;
    const server = createServer((req, res) => self!.handle(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    self = new WebhookServer(server, (server.address() as { port: number }).port);
    return self;
  }

  url(path = '/hook'): string {
    return `http://127.0.0.1:${this.port}${path}`;
  }

  /** Requests still waiting for an answer. */
  get unanswered(): number {
    return this.received.filter((r) => r.answeredWith === undefined).length;
  }

  /** The bodies' `text` or the parsed JSON, for the requests matching `path`. */
  bodies(path = '/hook'): unknown[] {
    return this.received.filter((r) => r.path === path).map((r) => r.json);
  }

  /** What the server saw, one line a request, for a test's output (a closing note). */
  transcript(): string {
    const t0 = this.received[0]?.atMs ?? 0;
    return this.received.map((r) => {
      const answered = r.answeredWith === undefined ? 'no answer' : `${r.answeredWith} after ${r.answeredAtMs! - r.atMs} ms`;
      return `  +${((r.atMs - t0) / 1000).toFixed(1)}s POST ${r.path} → ${answered}: ${r.body.length > 300 ? `${r.body.slice(0, 300)}…` : r.body}`;
    }).join('\n');
  }

  async close(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    for (const res of this.open) res.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      let json: unknown;
      try { json = JSON.parse(body); } catch { json = undefined; }
      const hook: ReceivedHook = { path: req.url ?? '/', headers: req.headers, body, json, answeredWith: undefined, atMs: Date.now(), answeredAtMs: undefined };
      const index = this.received.length;
      this.received.push(hook);
      const answer = this.answer(hook, index);
      this.open.add(res);
      res.on('close', () => this.open.delete(res));
      if (answer === 'stall') return;
      const send = (): void => {
        hook.answeredWith = answer.status;
        hook.answeredAtMs = Date.now();
        res.writeHead(answer.status, { 'content-type': 'text/plain', ...answer.headers }).end(answer.status < 300 ? 'ok' : `status ${answer.status}`);
      };
      if (!answer.delayMs) return send();
      const timer = setTimeout(() => { this.timers.delete(timer); send(); }, answer.delayMs);
      this.timers.add(timer);
    });
  }
}

/** An HTTP proxy on 127.0.0.1 that tunnels CONNECT requests to loopback addresses only, and counts them. */
export class ConnectProxy {
  /** `host:port` of every tunnel asked for. */
  readonly tunnels: string[] = [];
  private readonly sockets = new Set<Socket>();

  private constructor(private readonly server: Server, readonly port: number) {}

  static async start(): Promise<ConnectProxy> {
    let self: ConnectProxy | undefined;
    const server = createServer((_req, res) => res.writeHead(501).end('only CONNECT'));
    server.on('connect', (req: IncomingMessage, client: Socket, head: Buffer) => self!.tunnel(req, client, head));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    self = new ConnectProxy(server, (server.address() as { port: number }).port);
    return self;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private tunnel(req: IncomingMessage, client: Socket, head: Buffer): void {
    const target = req.url ?? '';
    this.tunnels.push(target);
    const [host, port] = target.split(':');
    this.sockets.add(client);
    client.on('close', () => this.sockets.delete(client));
    client.on('error', () => client.destroy());
    if (host !== '127.0.0.1' && host !== 'localhost') {
      client.end('HTTP/1.1 403 Forbidden\r\n\r\n');
      return;
    }
    const upstream = connect(Number(port), host, () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length > 0) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    this.sockets.add(upstream);
    upstream.on('close', () => { this.sockets.delete(upstream); client.destroy(); });
    upstream.on('error', () => client.destroy());
  }
}
