import { actionKey, type LifecycleAction } from './action.js';

/** The SQS side of an action: the messages that carry it. Implemented by queue/MessageLease. */
export interface ActionMessage {
  readonly messageId: string;
  delete(signal: AbortSignal): Promise<void>;
  release(delaySeconds: number, signal: AbortSignal): Promise<void>;
}

interface InFlight {
  readonly action: LifecycleAction;
  readonly messages: Map<string, ActionMessage>;
  readonly finished: Promise<void>;
  readonly markFinished: () => void;
}

/**
 * Lifecycle actions in flight, by identity (ASG, hook, instance). A second message for an action already in flight
 * (SQS is at-least-once; AWS may also send a notification twice) joins it: nothing else happens, and all its
 * messages are settled together when the action ends.
 */
export class ActionRegistry {
  private readonly inFlight = new Map<string, InFlight>();

  get size(): number {
    return this.inFlight.size;
  }

  /**
   * 'new' when the caller now owns the action and must run it and then call finish(); 'joined' when it was already
   * in flight: `finished` resolves once the owner has settled every message, this one included, so the joined
   * message's handler can simply wait (its visibility keeps being extended meanwhile).
   */
  admit(action: LifecycleAction, message: ActionMessage | undefined): { status: 'new' } | { status: 'joined'; finished: Promise<void> } {
    const key = actionKey(action);
    const existing = this.inFlight.get(key);
    if (existing) {
      if (message) existing.messages.set(message.messageId, message);
      return { status: 'joined', finished: existing.finished };
    }
    let markFinished = (): void => {};
    const finished = new Promise<void>((resolve) => { markFinished = resolve; });
    this.inFlight.set(key, { action, messages: new Map(message ? [[message.messageId, message]] : []), finished, markFinished });
    return { status: 'new' };
  }

  /** Removes the action and lets `settle` settle every message that carried it; then wakes the joined handlers. */
  async finish(action: LifecycleAction, settle: (messages: ActionMessage[]) => Promise<void>): Promise<void> {
    const key = actionKey(action);
    const entry = this.inFlight.get(key);
    if (!entry) return;
    this.inFlight.delete(key);
    try {
      await settle([...entry.messages.values()]);
    } finally {
      entry.markFinished();
    }
  }

  has(action: LifecycleAction): boolean {
    return this.inFlight.has(actionKey(action));
  }

  instanceIds(): string[] {
    return [...this.inFlight.values()].map((e) => e.action.instanceId);
  }
}
