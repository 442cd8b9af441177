import { sleep } from '../lifecycle/sleep.js';
import type { CallBudget } from './callBudget.js';
import { MergeWindow } from './mergeWindow.js';
import type { ClassicLoadBalancersPort, InstanceHealth } from './ports.js';

export interface ClassicTimings {
  /** How long a call waits for other events' instances of the same load balancer. */
  readonly batchWindowMs: number;
  /** Longest pause between DescribeInstanceHealth polls (they start at 1 s and double). */
  readonly maxPollIntervalMs: number;
  /** Bound on each merged call. */
  readonly callTimeoutMs: number;
}

const MAX_INSTANCES_PER_CALL = 100;
const FIRST_POLL_INTERVAL_MS = 1_000;

/**
 * Classic load balancer work shared by all events: DeregisterInstancesFromLoadBalancer and DescribeInstanceHealth
 * calls for the same load balancer are merged into one (within a short window, and while the call waits for the
 * call budget), through the call budget.
 */
export class ClassicLoadBalancerOperations {
  private readonly reads: MergeWindow<string, InstanceHealth[]>;
  private readonly deregistrations: MergeWindow<string, void>;

  constructor(private readonly port: ClassicLoadBalancersPort, private readonly budget: CallBudget, private readonly timings: ClassicTimings) {
    const window = { windowMs: timings.batchWindowMs, maxItems: MAX_INSTANCES_PER_CALL, callTimeoutMs: timings.callTimeoutMs, itemKey: (id: string) => id };
    this.reads = new MergeWindow(window, (name, _ids, signal) => this.describe(name, signal));
    this.deregistrations = new MergeWindow(window, (name, ids, signal) => this.deregisterMerged(name, ids, signal));
  }

  /** Every instance registered with the load balancer and its state; one call per window. */
  listInstances(name: string, signal: AbortSignal): Promise<InstanceHealth[]> {
    return this.reads.submit(name, [], signal);
  }

  /** Deregisters the instance, merged with other events' instances of the same load balancer. Idempotent. */
  deregister(name: string, instanceId: string, signal: AbortSignal): Promise<void> {
    return this.deregistrations.submit(name, [instanceId], signal);
  }

  /** Waits until the load balancer no longer lists the instance, or lists it OutOfService (connection draining done). */
  async awaitDeregistered(name: string, instanceId: string, signal: AbortSignal): Promise<void> {
    for (let intervalMs = FIRST_POLL_INTERVAL_MS; ; intervalMs = Math.min(intervalMs * 2, this.timings.maxPollIntervalMs)) {
      const state = (await this.listInstances(name, signal)).find((i) => i.instanceId === instanceId)?.state;
      if (state === undefined || state === 'OutOfService') return;
      await sleep(intervalMs, signal);
    }
  }

  private describe(name: string, signal: AbortSignal): Promise<InstanceHealth[]> {
    return this.budget.run('DescribeInstanceHealth', signal, () => this.port.describeInstanceHealth(name, signal));
  }

  /** InvalidInstance means some instance is not registered any more: the others are deregistered once more. */
  private async deregisterMerged(name: string, items: () => readonly string[], signal: AbortSignal): Promise<void> {
    const first = await this.budget.run('DeregisterInstancesFromLoadBalancer', signal, () => this.port.deregisterInstances(name, items(), signal));
    if (first === 'deregistered') return;
    const instanceIds = items();
    const registered = new Set((await this.describe(name, signal)).map((i) => i.instanceId));
    const still = instanceIds.filter((id) => registered.has(id));
    if (still.length === 0) return;
    const second = await this.budget.run('DeregisterInstancesFromLoadBalancer', signal, () => this.port.deregisterInstances(name, still, signal));
    if (second === 'invalid-instance') {
      throw new Error(`DeregisterInstancesFromLoadBalancer answered InvalidInstance for ${still.join(', ')} on classic load balancer ${name}, which lists them`);
    }
  }
}
