import type { EventEmitter } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * When a rule that matches a request fires, shared by the AWS and the Kubernetes fault proxies
 * (test/harness/faultProxy.ts, test/harness/kubeFaultProxy.ts).
 */
export interface FaultSchedule {
  /** Inject on every Nth matching request (1, the default, = all). */
  readonly every?: number;
  /** Inject at most this many times, then pass matching requests through (with `every: 1`: the first N). */
  readonly times?: number;
  /**
   * Only requests whose body contains this string (an instance id, a target group ARN, a node name…). A form-encoded
   * body (the AWS query protocol) is also searched URL-decoded, so an ARN matches as written.
   */
  readonly bodyIncludes?: string;
}

/** Counts, per rule object, the requests it matched and the faults it injected (new rule objects start afresh). */
export class FaultCounter<R extends FaultSchedule> {
  private readonly matched = new Map<R, number>();
  private readonly fired = new Map<R, number>();

  /** For a request the rule's own criteria (service, path…) matched: whether to inject this time. */
  fires(rule: R, body: Buffer): boolean {
    if (rule.bodyIncludes !== undefined && !bodyIncludes(body, rule.bodyIncludes)) return false;
    const n = (this.matched.get(rule) ?? 0) + 1;
    this.matched.set(rule, n);
    if (n % Math.max(1, rule.every ?? 1) !== 0) return false;
    const fired = this.fired.get(rule) ?? 0;
    if (rule.times !== undefined && fired >= rule.times) return false;
    this.fired.set(rule, fired + 1);
    return true;
  }
}

export function bodyIncludes(body: Buffer, needle: string): boolean {
  const text = body.toString('utf8');
  if (text.includes(needle)) return true;
  try {
    return decodeURIComponent(text.replace(/\+/gu, ' ')).includes(needle);
  } catch {
    return false; // not URL-encoded after all
  }
}

export function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** Whether the client is still waiting for `res`: `gone` resolves when the response closes (answered or abandoned). */
export function clientOf(res: ServerResponse): { readonly gone: Promise<void>; here(): boolean } {
  let closed = res.destroyed || (res.socket?.destroyed ?? false);
  const gone = closed ? Promise.resolve() : new Promise<void>((resolve) => res.once('close', () => { closed = true; resolve(); }));
  return { gone, here: () => !closed && !res.destroyed };
}

/** Waits `ms`, or less if the client goes away first; says whether it is still there. */
export async function pause(client: ReturnType<typeof clientOf>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([client.gone, new Promise<void>((resolve) => { timer = setTimeout(resolve, ms); })]);
  clearTimeout(timer);
  return client.here();
}

/** Counts the requests a server has received and not yet finished answering (a hung one stays until its client leaves). */
export function countOpenRequests(server: EventEmitter): () => number {
  let open = 0;
  server.on('request', (_req: IncomingMessage, res: ServerResponse) => {
    open++;
    res.once('close', () => { open--; });
  });
  return () => open;
}
