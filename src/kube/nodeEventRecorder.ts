import { randomBytes } from 'node:crypto';
import type { EventRecorder, NodeEvent, NodeInfo, ObjectRef } from '../lifecycle/ports.js';
import type { Logger } from '../observability/logger.js';
import { withTimeout } from '../lifecycle/sleep.js';
import type { KubeClients } from './apiClients.js';

const COMPONENT = 'lifecycle-manager';
/** An Event that cannot be created within this is given up (logged): publishing never holds up an action. */
const PUBLISH_TIMEOUT_MS = 10_000;

/**
 * Publishes core/v1 Events whose involvedObject is the Node (kind, name, uid), in the `default` namespace as the
 * kubelet does for Nodes, so `kubectl describe node` and `kubectl get events --field-selector
 * involvedObject.name=<node>` show them; an Event about another object (the owner of a pod that blocks a drain) goes
 * to that object's namespace. Publishing never throws and never blocks the workflow.
 */
export class NodeEventRecorder implements EventRecorder {
  private readonly pending = new Set<Promise<void>>();

  constructor(private readonly clients: KubeClients, private readonly log: Logger, private readonly reportingInstance: string) {}

  publish(node: Pick<NodeInfo, 'name' | 'uid'>, event: NodeEvent): Promise<void> {
    return this.send({ kind: 'Node', apiVersion: 'v1', name: node.name, uid: node.uid }, event);
  }

  publishOn(object: ObjectRef, event: NodeEvent): Promise<void> {
    return this.send(object, event);
  }

  /** Resolves once the Event was created or given up on (logged); never rejects. */
  private send(object: ObjectRef, event: NodeEvent): Promise<void> {
    const now = new Date();
    const namespace = object.namespace ?? 'default';
    this.log.debug(`publishing event: ${event.reason}${object.kind === 'Node' ? '' : ` on ${object.kind} ${namespace}/${object.name}`}`);
    const body = {
      metadata: { name: `${object.name}.${randomBytes(8).toString('hex')}`, namespace },
      involvedObject: { kind: object.kind, apiVersion: object.apiVersion, name: object.name, uid: object.uid, ...(object.namespace ? { namespace: object.namespace } : {}) },
      reason: event.reason,
      message: event.message.slice(0, 1024),
      type: event.type,
      count: event.count ?? 1,
      firstTimestamp: now,
      lastTimestamp: now,
      source: { component: COMPONENT },
      reportingComponent: COMPONENT,
      reportingInstance: this.reportingInstance,
    };
    const p: Promise<void> = withTimeout([], PUBLISH_TIMEOUT_MS, (signal) =>
      this.clients.call(signal, `create event ${event.reason}`, (o) => this.clients.core.createNamespacedEvent({ namespace, body }, o)))
      .then(() => undefined, (e: unknown) => this.log.warn(`failed to publish event ${event.reason}: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`, { error: e }))
      .finally(() => this.pending.delete(p));
    this.pending.add(p);
    return p;
  }

  /** Waits for events still being sent (shutdown), at most `timeoutMs`. */
  async flush(timeoutMs = 5_000): Promise<void> {
    if (this.pending.size === 0) return;
    await withTimeout([], timeoutMs, (signal) => new Promise<void>((resolve) => {
      signal.addEventListener('abort', () => resolve(), { once: true });
      void Promise.allSettled([...this.pending]).then(() => resolve());
    }));
  }
}
