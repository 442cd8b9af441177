import { describeError, isAbort, isTransient } from '../lifecycle/errors.js';
import type { ClusterPort, PodInfo } from '../lifecycle/ports.js';
import { type Backoff, backoffDelayMs } from '../lifecycle/sleep.js';
import type { Logger } from '../observability/logger.js';
import { NodeEvents } from '../observability/nodeEvents.js';
import type { DrainReporter } from './drainer.js';
import { podRef } from './podSelection.js';

const EVICTION_RETRY: Backoff = { minMs: 500, maxMs: 5_000 };
/** A refusal (webhook, policy, terminating namespace) is asked again less eagerly than a PDB's 429. */
const REFUSED_RETRY: Backoff = { minMs: 1_000, maxMs: 10_000 };
const PARALLEL_EVICTIONS = 16;

interface PodState {
  status: 'evicted' | 'blocked-by-pdb' | 'refused' | 'retrying';
  attempts: number;
  nextTryAtMs: number;
  lastError?: string;
  /** The refusal last reported (log line and Event), so a repeated refusal is not reported again. */
  reportedRefusal?: string;
}

/**
 * The evictions of one drain attempt, keyed by pod UID (a replacement pod with the same name is a new pod).
 * Each pod has its own state: a pod blocked by a PodDisruptionBudget (429), refused for another reason (an
 * admission webhook or policy, a namespace being terminated, a budget the eviction subresource rejects) or hit by
 * a transient error is retried with backoff; an evicted pod is only waited for. One pod's refusal never fails the
 * attempt: the others keep draining. Owns its state; nothing else reads it.
 */
export class EvictionRound {
  private readonly pods = new Map<string, PodState>();
  private lastSeen: PodInfo[] = [];

  constructor(
    private readonly cluster: ClusterPort,
    private readonly log: Logger,
    private readonly reporter: DrainReporter,
    private readonly now: () => number = Date.now,
  ) {}

  /** Requests eviction of every listed pod that is due; returns when this round of requests is answered. */
  async evict(pods: readonly PodInfo[], signal: AbortSignal): Promise<void> {
    this.lastSeen = [...pods];
    const due = pods.filter((p) => !p.deletionTimestamp && this.isDue(p));
    for (let i = 0; i < due.length; i += PARALLEL_EVICTIONS) {
      await Promise.all(due.slice(i, i + PARALLEL_EVICTIONS).map((p) => this.evictOne(p, signal)));
    }
  }

  /** "3 pods still on the node: a/b (blocked by PodDisruptionBudget), c/d (eviction refused: …), …" */
  describeRemaining(): string {
    if (this.lastSeen.length === 0) return 'no pods left';
    const parts = this.lastSeen.slice(0, 5).map((p) => {
      const s = this.pods.get(p.uid);
      const why = p.deletionTimestamp || s?.status === 'evicted' ? 'terminating'
        : s?.status === 'blocked-by-pdb' ? 'blocked by PodDisruptionBudget'
        : s?.status === 'refused' ? `eviction refused: ${s.lastError ?? 'no reason given'}`
        : s?.lastError ? `eviction failing: ${s.lastError}` : 'not evicted yet';
      return `${podRef(p)} (${why})`;
    });
    return `${this.lastSeen.length} pods still on the node: ${parts.join(', ')}${this.lastSeen.length > 5 ? ', …' : ''}`;
  }

  private isDue(pod: PodInfo): boolean {
    const s = this.pods.get(pod.uid);
    return !s || (s.status !== 'evicted' && s.nextTryAtMs <= this.now());
  }

  private async evictOne(pod: PodInfo, signal: AbortSignal): Promise<void> {
    const state = this.pods.get(pod.uid) ?? { status: 'retrying', attempts: 0, nextTryAtMs: 0 };
    this.pods.set(pod.uid, state);
    state.attempts++;
    try {
      const result = await this.cluster.evictPod(pod, signal);
      this.reporter.eviction(result.outcome);
      if (result.outcome === 'blocked-by-pdb') {
        if (state.status !== 'blocked-by-pdb') this.log.info(`eviction of pod ${podRef(pod)} blocked by its PodDisruptionBudget; will retry`);
        state.status = 'blocked-by-pdb';
        state.nextTryAtMs = this.now() + backoffDelayMs(state.attempts, EVICTION_RETRY);
        return;
      }
      if (result.outcome === 'refused') {
        this.refused(pod, state, result.namespaceTerminating ? `its namespace is being terminated (${result.reason})` : result.reason);
        return;
      }
      if (result.outcome === 'evicted') this.log.info(`evicting pod ${podRef(pod)}`);
      state.status = 'evicted';
    } catch (e) {
      if (isAbort(e) && signal.aborted) throw e;
      if (!isTransient(e)) {
        // Unexpected, but still this pod's problem only.
        this.refused(pod, state, describeError(e));
        return;
      }
      state.status = 'retrying';
      state.lastError = describeError(e);
      state.nextTryAtMs = this.now() + backoffDelayMs(state.attempts, EVICTION_RETRY);
      this.log.warn(`error when evicting pod ${podRef(pod)} (will retry): ${state.lastError}`);
    }
  }

  private refused(pod: PodInfo, state: PodState, reason: string): void {
    state.status = 'refused';
    state.lastError = reason;
    state.nextTryAtMs = this.now() + backoffDelayMs(state.attempts, REFUSED_RETRY);
    if (state.reportedRefusal === reason) return;
    state.reportedRefusal = reason;
    this.log.warn(`eviction of pod ${podRef(pod)} refused (will retry; the other pods keep draining): ${reason}`);
    this.reporter.event(NodeEvents.podEvictionRefused(podRef(pod), reason));
  }
}
