/**
 * The ports of durable action state and ownership across replicas (re-exported by ports.ts): what an action's record
 * holds, how a replica claims, writes and releases it, and the replica's liveness that all its actions share.
 */
import type { LifecycleAction } from './action.js';

/** Where an action stands; recorded before each step starts so a resumed action knows how far it got. */
export type ActionPhase = 'verified' | 'awaiting-node' | 'cordoning' | 'planning' | 'deregistering' | 'draining' | 'awaiting-volumes' | 'deleting-node' | 'completing'
  /** A launch (--launch-hooks): waiting for the Node to be Ready, then for its DaemonSet pods. */
  | 'awaiting-node-ready' | 'awaiting-daemonsets';

/** The durable record of an action in flight, owned by one replica at a time. */
export interface ActionRecord {
  readonly action: LifecycleAction;
  readonly phase: ActionPhase;
  readonly receivedAtMs: number;
  readonly deadlineMs: number;
  readonly heartbeatTimeoutSeconds: number;
  readonly holder: string;
}

export type ClaimResult =
  /** `record` is what the Lease says now: an existing Lease keeps its first receipt and deadline across hand-overs. */
  | { readonly status: 'claimed'; readonly record: ActionRecord; readonly resumedFrom: ActionPhase | undefined; readonly previousHolder: string | undefined }
  | { readonly status: 'held-elsewhere'; readonly holder: string };

/** Whether an action's record exists and who may act on it (without changing it). */
export type RecordState = 'absent' | { readonly holder: string; readonly claimable: boolean };

/**
 * Durable per-action state with ownership: a record per action (a coordination.k8s.io Lease, keyed like every other
 * record of an action by (group, hook, instance)) naming the replica that holds it, written when the action starts,
 * changes phase and ends. Whether that replica is alive is its `liveness`, one renewal for all its actions (a Lease
 * per replica): another replica takes an action over only once its holder's liveness has run out.
 */
export interface ActionStore {
  readonly identity: string;
  /** Creates the record, or takes it over when its holder is no longer alive; 'held-elsewhere' otherwise. */
  claim(record: Omit<ActionRecord, 'holder'>, signal: AbortSignal): Promise<ClaimResult>;
  /** The record's current state: 'absent' once its owner finished (or dropped) the action. */
  inspect(action: LifecycleAction, signal: AbortSignal): Promise<RecordState>;
  /**
   * Writes the record with the version last read (recording the phase when given), which fails when another replica
   * took the action over: 'lost' then. It also proves ownership when the replica's liveness cannot vouch for it.
   */
  renew(action: LifecycleAction, phase: ActionPhase | undefined, signal: AbortSignal): Promise<'renewed' | 'lost'>;
  /** Deletes the record (the action is finished). Idempotent. */
  release(action: LifecycleAction, signal: AbortSignal): Promise<void>;
  /** Gives ownership up at once (graceful shutdown) so another replica resumes without waiting for expiry. */
  handOver(action: LifecycleAction, signal: AbortSignal): Promise<void>;
  /** Records whose holder is no longer alive (and records held by this identity from a previous life). */
  listOrphans(signal: AbortSignal): Promise<ActionRecord[]>;
  /** The longest an action's ownership lasts without renewal (--lease-duration). */
  readonly leaseDurationSeconds: number;
  /**
   * How long one action's ownership lasts without renewal: a third of its hook's HeartbeatTimeout, at most
   * --lease-duration, so that a dead owner is replaced well before the hook could expire.
   */
  leaseDurationFor(heartbeatTimeoutSeconds: number): number;
  /** This replica's liveness, renewed once for all the actions it holds. */
  readonly liveness: ReplicaLiveness;
  /**
   * True when no other replica can have taken the action over, without asking: the liveness vouches for the action's
   * lease duration and has not lapsed since this replica last wrote or read the record as its own.
   */
  vouchedFor(action: LifecycleAction): boolean;
}

/**
 * A replica's proof of life, shared by every action it holds (one Lease per replica, renewed in the background). No
 * other replica may take an action over while it was renewed within that action's lease duration.
 */
export interface ReplicaLiveness {
  /**
   * Keeps the liveness renewed at least every third of `leaseDurationSeconds` (an action's lease duration) until the
   * returned function is called.
   */
  require(leaseDurationSeconds: number): () => void;
  /**
   * True when no other replica can have taken over an action of that lease duration: the last successful renewal is
   * less than two thirds of it old (the last third is the margin for clocks and the request's own time).
   */
  vouchesFor(leaseDurationSeconds: number): boolean;
  /**
   * How many times a renewal succeeded after a gap longer than the lease duration required then (an apiserver outage):
   * other replicas may have taken actions over meanwhile, so an action that sees this number grow checks its record.
   */
  readonly lapses: number;
}
