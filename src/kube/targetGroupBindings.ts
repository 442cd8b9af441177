import * as k8s from './k8s.js';
import { sleep } from '../lifecycle/sleep.js';
import type { BoundTargetGroup, TargetGroupBindingsPort } from '../loadbalancing/ports.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { KubeClients } from './apiClients.js';
import { statusCode, statusMessage } from './errors.js';

export const BINDINGS_GROUP = 'elbv2.k8s.aws';
export const BINDINGS_VERSION = 'v1beta1';
export const BINDINGS_PLURAL = 'targetgroupbindings';
const PATH = `/apis/${BINDINGS_GROUP}/${BINDINGS_VERSION}/${BINDINGS_PLURAL}`;

export interface BindingWatchTimings {
  /** Server-side timeout of each watch request; also how often a missing CRD (or permission) is looked for again. */
  readonly watchTimeoutSeconds: number;
}

interface TargetGroupBindingObject {
  readonly metadata?: { readonly name?: string; readonly namespace?: string; readonly resourceVersion?: string };
  readonly spec?: { readonly targetGroupARN?: string; readonly targetGroupName?: string; readonly targetType?: string; readonly vpcID?: string };
}

type Listed = 'listed' | 'absent' | 'forbidden';

/**
 * The cluster's TargetGroupBindings (elbv2.k8s.aws/v1beta1, all namespaces), kept from one LIST and a watch, with only
 * the fields discovery needs. Nothing depends on the CRD: while it is not installed (404) or the bindings may not
 * be read (403) the set is empty and the LIST is tried again every watch period, so a CRD installed after startup
 * is picked up then; a CRD removed later empties the set. A watch that fails is restarted with a capped backoff.
 */
export class WatchedTargetGroupBindings implements TargetGroupBindingsPort {
  private readonly byKey = new Map<string, BoundTargetGroup>();
  private resourceVersion = '';
  private state: Listed | undefined;
  private readonly stopping = new AbortController();
  private running: Promise<void> | undefined;
  private watching: AbortController | undefined;

  constructor(private readonly clients: KubeClients, private readonly log: Logger, private readonly metrics: Metrics, private readonly timings: BindingWatchTimings) {}

  current(): readonly BoundTargetGroup[] {
    return [...this.byKey.values()];
  }

  /** Lists once (so the first events already see the bindings), then keeps watching in the background until stop(). */
  async start(): Promise<void> {
    await this.list().catch((e: unknown) => this.log.warn(`could not list TargetGroupBindings: ${describe(e)}; trying again in the background`));
    this.running = this.loop();
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    this.watching?.abort();
    await this.running;
  }

  private async loop(): Promise<void> {
    const signal = this.stopping.signal;
    let failures = 0;
    while (!signal.aborted) {
      try {
        if (this.state !== 'listed') {
          await sleep(this.timings.watchTimeoutSeconds * 1000, signal);
          await this.list();
          continue;
        }
        if ((await this.watchOnce()) === 'expired') await this.list();
        failures = 0;
      } catch (e) {
        if (signal.aborted) return;
        failures++;
        const delayMs = Math.min(30_000, 1_000 * 2 ** Math.min(failures - 1, 5));
        this.log.warn(`TargetGroupBinding watch failed (${describe(e)}); listing again in ${delayMs / 1000}s`);
        this.state = undefined;
        await sleep(delayMs, signal).catch(() => undefined);
        await this.list().catch(() => undefined);
      }
    }
  }

  /** Replaces the set from a LIST of every namespace; 404 (no CRD) and 403 (no permission) leave it empty. */
  private async list(): Promise<void> {
    const seen = new Map<string, BoundTargetGroup>();
    let next: string | undefined;
    try {
      do {
        const page = await this.clients.call(this.stopping.signal, 'list targetgroupbindings', (o) => this.clients.custom.listClusterCustomObject(
          { group: BINDINGS_GROUP, version: BINDINGS_VERSION, plural: BINDINGS_PLURAL, limit: 500, ...(next ? { _continue: next } : {}) }, o)) as
          { items?: TargetGroupBindingObject[]; metadata?: { _continue?: string; resourceVersion?: string } };
        for (const item of page.items ?? []) {
          const b = toBound(item);
          if (b) seen.set(b.binding, b);
        }
        next = page.metadata?._continue || undefined;
        this.resourceVersion = page.metadata?.resourceVersion ?? this.resourceVersion;
      } while (next);
    } catch (e) {
      const code = statusCode(e);
      if (code !== 404 && code !== 403) throw e;
      this.byKey.clear();
      this.report(code === 404 ? 'absent' : 'forbidden', e);
      return;
    }
    this.byKey.clear();
    for (const [k, b] of seen) this.byKey.set(k, b);
    this.report('listed');
  }

  private report(state: Listed, e?: unknown): void {
    if (state === this.state) return;
    const again = `looking again every ${this.timings.watchTimeoutSeconds}s`;
    if (state === 'listed') this.log.info(`watching TargetGroupBindings (${BINDINGS_GROUP}/${BINDINGS_VERSION}): ${this.byKey.size} in the cluster`);
    else if (state === 'absent') this.log.info(`the TargetGroupBinding CRD (${BINDINGS_GROUP}/${BINDINGS_VERSION}) is not installed; ${again}`);
    else this.log.warn(`may not list TargetGroupBindings (${statusMessage(e)}): the AWS Load Balancer Controller's target groups are found through the region index only; grant list and watch on ${BINDINGS_PLURAL}.${BINDINGS_GROUP} (the chart does); ${again}`);
    this.state = state;
  }

  /**
   * One watch request from the last resourceVersion; 'expired' on 410 Gone. One that outlives twice its server-side
   * timeout (an apiserver that never answered) is abandoned and listed again.
   */
  private watchOnce(): Promise<'ended' | 'expired'> {
    return new Promise((resolve, reject) => {
      let expired = false;
      const guard = setTimeout(() => { this.watching?.abort(); resolve('expired'); }, this.timings.watchTimeoutSeconds * 2000);
      const onEvent = (type: string, object: TargetGroupBindingObject & { code?: number }): void => {
        if (type === 'ERROR') {
          if (object.code === 410) expired = true;
          return;
        }
        if (object.metadata?.resourceVersion) this.resourceVersion = object.metadata.resourceVersion;
        const b = toBound(object);
        if (!b) return;
        if (type === 'DELETED') this.byKey.delete(b.binding);
        else if (type === 'ADDED' || type === 'MODIFIED') this.byKey.set(b.binding, b);
      };
      const onDone = (err: unknown): void => {
        clearTimeout(guard);
        if (expired) resolve('expired');
        else if (err && !this.stopping.signal.aborted && !(err instanceof Error && err.name === 'AbortError')) reject(err);
        else resolve('ended');
      };
      new k8s.Watch(this.clients.kubeConfig)
        .watch(PATH, { resourceVersion: this.resourceVersion, allowWatchBookmarks: true, timeoutSeconds: this.timings.watchTimeoutSeconds }, onEvent, onDone)
        .then((controller) => {
          this.metrics.kubeCalls.inc({ verb: 'watch', resource: BINDINGS_PLURAL });
          this.watching = controller;
          if (this.stopping.signal.aborted) controller.abort();
        }, (e: unknown) => { clearTimeout(guard); reject(e); });
    });
  }
}

function toBound(o: TargetGroupBindingObject): BoundTargetGroup | undefined {
  const name = o.metadata?.name;
  if (!name) return undefined;
  const spec = o.spec ?? {};
  return {
    binding: `${o.metadata?.namespace ?? ''}/${name}`,
    arn: spec.targetGroupARN || undefined,
    name: spec.targetGroupName || undefined,
    targetType: spec.targetType || undefined,
    vpcId: spec.vpcID || undefined,
  };
}

function describe(e: unknown): string {
  return statusCode(e) !== undefined ? `HTTP ${statusCode(e)}: ${statusMessage(e)}` : e instanceof Error ? e.message.split('\n')[0] ?? e.name : String(e);
}
