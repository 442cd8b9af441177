import type { Logger } from '../observability/logger.js';
import type { LifecycleAction, LifecycleActionResult, LifecycleHook } from './action.js';
import type { ActionPhase, ActionRecord, InstanceFacts, NodeEvent, NodeInfo, PodInfo } from './ports.js';
import type { FailureClass, StepName } from './step.js';
import { linkedSignal } from './sleep.js';

/** How the action's messages (and its Lease) are settled when it ends. */
export type Finish =
  /** Done (completed, or deliberately dropped): delete every message; `releaseRecord` also deletes the Lease. */
  | { readonly settle: 'delete'; readonly releaseRecord: boolean }
  /** Not ours to finish now: make the messages visible again after `delaySeconds`. */
  | { readonly settle: 'release'; readonly delaySeconds: number }
  /** Shutdown: give the Lease up at once and return the messages (visibility 0) for another replica. */
  | { readonly settle: 'hand-over' };

export interface StepFailure {
  readonly step: StepName;
  readonly failureClass: FailureClass;
  readonly cause: string;
}

/** Where an action's facts come from at its start: a message, or a Lease found by the orphan scan. */
export interface ActionOrigin {
  readonly action: LifecycleAction;
  readonly receiveCount: number;
  /** When SQS first handed the message to any consumer (epoch ms): --max-time-to-process counts from there. */
  readonly firstReceivedAtMs: number;
  /** When SQS got the message (epoch ms), if known. */
  readonly sentAtMs: number | undefined;
  /** Set when resuming from a Lease whose owner stopped renewing it. */
  readonly record: ActionRecord | undefined;
}

/**
 * Everything one action's steps share: what has been learned so far (the hook, the deadline, the Node), how it
 * is going (result, failures) and how it will end (finish). Steps read and write it; only the workflow creates it.
 */
export class ActionContext {
  readonly action: LifecycleAction;
  readonly log: Logger;
  hook: LifecycleHook | undefined;
  receivedAtMs: number;
  deadlineMs: number | undefined;
  resumedFrom: ActionPhase | undefined;
  phase: ActionPhase | undefined;
  node: NodeInfo | undefined;
  /** The instance's lifecycle state as verification found it (undefined with --verify-lifecycle-state=false). */
  lifecycleState: string | undefined;
  result: LifecycleActionResult = 'CONTINUE';
  /** Why the action is being abandoned (the first failure under `abandon`). */
  abandonCause: string | undefined;
  readonly failures: StepFailure[] = [];
  /** The pods on the node when the drain was planned (after the cordon): their IPs are what ip target groups hold. */
  podsAtPlan: readonly PodInfo[] | undefined;
  /** --dry-run: the plan the dry_run step published (what the termination would have done). */
  dryRunPlan: string | undefined;
  finish: Finish | undefined;
  /** Aborted when the action must stop at once: AWS no longer has it, or another replica took it over. */
  private readonly stopper = new AbortController();
  /** Shutdown, or `stopNow`: every step's signal derives from it. */
  readonly signal: AbortSignal;
  private readonly disposeSignal: () => void;
  private facts: Promise<InstanceFacts | undefined> | undefined;
  private readonly keepAliveStopper = new AbortController();
  private readonly ender = new AbortController();
  /** Aborted when the action has ended (dispose): what is kept for the action's duration (a pod watch) lets go then. */
  readonly ended: AbortSignal = this.ender.signal;
  private readonly keepAlives: Promise<void>[] = [];

  constructor(
    readonly origin: ActionOrigin,
    log: Logger,
    readonly shutdown: AbortSignal,
    private readonly publishOnNode: (node: NodeInfo, event: NodeEvent) => void | Promise<void>,
    /** The phases in the order this configuration's steps record them (--deregister-order moves one). */
    private readonly phaseOrder: readonly ActionPhase[],
  ) {
    this.action = origin.action;
    // Every line of the action carries the Node and the phase as fields once they are known.
    this.log = log.child(undefined, () => ({ node: this.node?.name, phase: this.phase }));
    this.receivedAtMs = origin.record?.receivedAtMs ?? origin.firstReceivedAtMs;
    this.deadlineMs = origin.record?.deadlineMs;
    const { signal, dispose } = linkedSignal([shutdown, this.stopper.signal]);
    this.signal = signal;
    this.disposeSignal = dispose;
  }

  /**
   * Runs a loop that keeps the action alive (heartbeats, Lease renewals) until stopKeepAlive() or the action stops.
   * `loop` gets a signal for that and must not throw.
   */
  keepAlive(loop: (signal: AbortSignal) => Promise<void>): void {
    const { signal, dispose } = linkedSignal([this.signal, this.keepAliveStopper.signal]);
    this.keepAlives.push(loop(signal).finally(dispose));
  }

  /** Stops the keep-alive loops (after completion, before the Lease is deleted) and waits for them. Idempotent. */
  async stopKeepAlive(): Promise<void> {
    this.keepAliveStopper.abort();
    await Promise.allSettled(this.keepAlives);
  }

  /** Ends the action's steps at once with `reason` (an ActionGoneError or OwnershipLostError). */
  stopNow(reason: Error): void {
    this.stopper.abort(reason);
  }

  get stopReason(): unknown {
    return this.stopper.signal.aborted ? this.stopper.signal.reason : undefined;
  }

  /**
   * True when the action was resumed from a phase after `phase` in this configuration's order (steps up to it
   * already ran once). A recorded phase this configuration has no step for resumes from the start.
   */
  resumedPast(phase: ActionPhase): boolean {
    if (!this.resumedFrom) return false;
    const from = this.phaseOrder.indexOf(this.resumedFrom);
    const at = this.phaseOrder.indexOf(phase);
    return from >= 0 && at >= 0 && from > at;
  }

  /** True for a phase this configuration's steps reach after the drain (the pods are gone by then). */
  isAfterDrain(phase: ActionPhase | undefined): boolean {
    return phase !== undefined && this.phaseOrder.indexOf(phase) > this.phaseOrder.indexOf('draining');
  }

  /** An Event on the action's Node, when it has one. */
  publish(event: NodeEvent): void | Promise<void> {
    if (this.node) return this.publishOnNode(this.node, event);
  }

  /** The EC2 facts about the instance (its VPC, its private DNS name), read once; undefined when they cannot be read. */
  instanceFacts(read: () => Promise<InstanceFacts | undefined>): Promise<InstanceFacts | undefined> {
    this.facts ??= read();
    return this.facts;
  }

  dispose(): void {
    this.disposeSignal();
    this.ender.abort();
  }
}
