import { describeError, isAbort } from '../lifecycle/errors.js';
import type { ClusterPort, NodeDirectory, NodeEvent, NodeInfo, PodInfo } from '../lifecycle/ports.js';
import { linkedSignal, sleep } from '../lifecycle/sleep.js';
import type { Logger } from '../observability/logger.js';
import { NodeEvents } from '../observability/nodeEvents.js';
import { EvictionRound } from './evictionRound.js';
import { type DrainTier, currentTier, escalationGraceSeconds, isTerminal, podRef, podsToDrain } from './podSelection.js';
import { retryUntil } from '../lifecycle/retryUntil.js';

export interface DrainConfig {
  readonly drainTimeoutSeconds: number;
  readonly drainTimeoutUnknownSeconds: number;
  readonly drainIntervalSeconds: number;
  readonly drainRetries: number;
  readonly maxTerminationGracePeriodSeconds: number;
  /** Labels set together with the cordon (the exclude-from-load-balancer labels when --with-deregister). */
  readonly nodeLabels: Readonly<Record<string, string>>;
  /** How often the pod list is re-read while waiting for pods to go. */
  readonly pollIntervalMs: number;
}

/** How a drain ended. 'skipped': drain timeout 0; 'escalated': attempts failed, the force-delete succeeded. */
export type DrainResult =
  | { readonly outcome: 'drained' | 'node-gone' | 'skipped' | 'escalated'; readonly attempts: number }
  | { readonly outcome: 'failed'; readonly attempts: number; readonly reason: string };

export interface DrainReporter {
  event(event: NodeEvent): void;
  eviction(outcome: 'evicted' | 'gone' | 'blocked-by-pdb' | 'refused' | 'deleted'): void;
  drainFailed(): void;
  /** A tier's pods are all gone after `seconds` (the phase histogram's drain_<tier>). */
  tierDone?(tier: DrainTier, seconds: number): void;
}

/**
 * Which tier a drain is evicting and since when: non-critical pods first, then the system-critical ones (DNS, CNI
 * helpers, log shippers), each waited for before the next, across attempts.
 */
class TierProgress {
  private tier: DrainTier | undefined;
  private sinceMs = Date.now();
  /** The node has system-critical pods to hold back: the tiers are worth naming. */
  private tiered = false;

  constructor(private readonly node: NodeInfo, private readonly log: Logger, private readonly reporter: DrainReporter) {}

  /** "waiting on the critical tier: " when the node drains in two tiers; "" otherwise. */
  get waitingOn(): string {
    return this.tier && this.tiered ? `waiting on the ${this.tier} tier: ` : '';
  }

  /** Reports a new tier (log, Event) and the duration of the one it follows. */
  enter(tier: DrainTier | undefined, pods: readonly PodInfo[], later: readonly PodInfo[]): void {
    if (tier === this.tier) return;
    if (this.tier) this.reporter.tierDone?.(this.tier, (Date.now() - this.sinceMs) / 1000);
    this.tier = tier;
    this.sinceMs = Date.now();
    if (!tier) return;
    this.tiered ||= tier === 'critical' || later.length > 0;
    const names = (list: readonly PodInfo[]): string => `${list.slice(0, 5).map(podRef).join(', ')}${list.length > 5 ? ', …' : ''}`;
    const line = tier === 'non-critical'
      ? `evicting ${pods.length} non-critical pods first${later.length > 0 ? `; ${later.length} system-critical pods (${names(later)}) wait until they are gone` : ''}`
      : `evicting ${pods.length} system-critical pods (${names(pods)}) now that the other pods are gone`;
    this.log.info(`${line} (node ${this.node.name})`, { tier });
    // A node without system-critical pods drains in one tier: the drain's own Events say all there is to say.
    if (this.tiered) this.reporter.event(NodeEvents.evictingPodTier(this.node.name, tier, line));
  }
}

/** Escalation waits this long past the largest grace period it used (upstream's slack). */
export const ESCALATION_SLACK_SECONDS = 30;

/**
 * Drains a node the way `kubectl drain --ignore-daemonsets --delete-emptydir-data --force` does, through the
 * eviction API (PodDisruptionBudgets respected): `drainRetries` attempts of `drainTimeout` seconds each
 * (`drainTimeoutUnknown` when the node's Ready condition is Unknown), `drainInterval` seconds apart. After the last
 * failed attempt it escalates as upstream v0.6.7 does: delete the remaining pods with a capped grace period.
 */
export class NodeDrainer {
  constructor(
    private readonly cluster: ClusterPort,
    private readonly config: DrainConfig,
    /** The node index: an attempt does not cordon again a node it shows cordoned and labelled already. */
    private readonly nodes?: Pick<NodeDirectory, 'findByInstanceId'>,
  ) {}

  /** The node index shows this very Node unschedulable with every label the cordon sets. */
  private showsCordoned(node: NodeInfo): boolean {
    const seen = this.nodes?.findByInstanceId(node.instanceId);
    if (!seen || seen.name !== node.name || seen.uid !== node.uid || !seen.unschedulable) return false;
    return Object.entries(this.config.nodeLabels).every(([key, value]) => seen.labels?.[key] === value);
  }

  async drain(node: NodeInfo, log: Logger, reporter: DrainReporter, signal: AbortSignal): Promise<DrainResult> {
    const unknown = node.ready === 'Unknown';
    const timeoutSeconds = unknown ? this.config.drainTimeoutUnknownSeconds : this.config.drainTimeoutSeconds;
    if (unknown) log.info(`node is in unknown state, setting drain deadline to ${timeoutSeconds}s`);
    if (timeoutSeconds === 0) {
      log.warn('skipping drain since timeout was set to 0');
      return { outcome: 'skipped', attempts: 0 };
    }
    log.info(`draining node/${node.name}`);
    let lastFailure = '';
    const tiers = new TierProgress(node, log, reporter);
    for (let attempt = 1; attempt <= this.config.drainRetries; attempt++) {
      const result = await this.attempt(node, timeoutSeconds, log, reporter, tiers, signal);
      if (result === 'drained' || result === 'node-gone') {
        log.info(result === 'drained' ? `drain succeeded, node ${node.name}` : `node ${node.name} no longer exists; nothing left to drain`);
        return { outcome: result, attempts: attempt };
      }
      lastFailure = result.failure;
      log.warn(`failed to drain node ${node.name}, error: ${lastFailure}`);
      if (attempt < this.config.drainRetries) {
        log.info(`retrying drain, node ${node.name} (attempt ${attempt + 1}/${this.config.drainRetries} in ${this.config.drainIntervalSeconds}s)`);
        await sleep(this.config.drainIntervalSeconds * 1000, signal);
      }
    }
    reporter.drainFailed();
    reporter.event(NodeEvents.nodeDrainFailed(node.name, lastFailure));
    return this.escalate(node, lastFailure, log, reporter, signal);
  }

  /**
   * One attempt: cordon, evict everything evictable, wait until it is gone or the attempt's --drain-timeout is
   * spent. Nothing but the timeout (or the node going away) ends an attempt: a failed cordon, a pod list that
   * fails, a pod whose eviction is refused are logged and tried again within it, so one bad pod or API hiccup
   * never cuts the attempt short for the others.
   */
  private async attempt(node: NodeInfo, timeoutSeconds: number, log: Logger, reporter: DrainReporter, tiers: TierProgress, signal: AbortSignal): Promise<'drained' | 'node-gone' | { failure: string }> {
    const { signal: attemptSignal, dispose } = linkedSignal([signal], timeoutSeconds * 1000);
    const round = new EvictionRound(this.cluster, log, reporter);
    let cordoned = false;
    let lastError: string | undefined;
    const warnOnce = (e: unknown): void => {
      // Not transient (those were retried): say so once per distinct error, keep trying until the timeout.
      if (describeError(e) !== lastError) log.warn(`drain of node ${node.name}: ${describeError(e)}; trying again until the attempt's ${timeoutSeconds}s are spent`, { error: e });
      lastError = describeError(e);
    };
    try {
      for (;;) {
        if (!cordoned && this.showsCordoned(node)) {
          // Cordoned already (by the cordon step, or the attempt before): no PATCH. Uncordoned since: cordoned again.
          cordoned = true;
        }
        if (!cordoned) {
          // A cordon that fails does not hold the evictions up: it is tried again at the next poll.
          try {
            if ((await retryUntil(() => this.cluster.cordon(node.name, this.config.nodeLabels, attemptSignal), attemptSignal)) === 'gone') return 'node-gone';
            cordoned = true;
          } catch (e) {
            if (attemptSignal.aborted) throw e;
            warnOnce(e);
          }
        }
        try {
          const pods = podsToDrain(await retryUntil(() => this.cluster.listPodsOnNode(node.name, attemptSignal), attemptSignal,
            { operation: `list pods on node ${node.name}`, log }));
          const tier = currentTier(pods);
          tiers.enter(tier?.tier, tier?.pods ?? [], tier?.later ?? []);
          if (!tier) return 'drained';
          // Only the current tier is evicted; the next one waits until it is gone.
          await round.evict(tier.pods, attemptSignal);
        } catch (e) {
          if (attemptSignal.aborted) throw e;
          warnOnce(e);
        }
        await sleep(this.config.pollIntervalMs, attemptSignal);
      }
    } catch (e) {
      if (signal.aborted) throw e;
      if (isAbort(e)) return { failure: `global timeout reached: ${timeoutSeconds}s; ${tiers.waitingOn}${round.describeRemaining()}${lastError ? `; last error: ${lastError}` : ''}` };
      return { failure: describeError(e) };
    } finally {
      dispose();
    }
  }

  private async escalate(node: NodeInfo, cause: string, log: Logger, reporter: DrainReporter, signal: AbortSignal): Promise<DrainResult> {
    const attempts = this.config.drainRetries;
    const capSeconds = this.config.maxTerminationGracePeriodSeconds;
    if (capSeconds <= 0) {
      log.warn(`drain failed and max-termination-grace-period is ${capSeconds}s; not escalating`);
      return { outcome: 'failed', attempts, reason: `${cause}; drain failed and graceful escalation is disabled (max-termination-grace-period <= 0)` };
    }
    log.warn(`drain failed; escalating to graceful force-delete (grace=${capSeconds}s) on node ${node.name}`);
    try {
      const current = (await retryUntil(() => this.cluster.getNode(node.name, signal), signal)) ?? node;
      const pods = podsToDrain(await retryUntil(() => this.cluster.listPodsOnNode(node.name, signal), signal)).filter((p) => !isTerminal(p));
      let deleted = 0;
      let longestGraceSeconds = 0;
      for (const pod of pods) {
        const grace = escalationGraceSeconds(pod, capSeconds, current.ready);
        longestGraceSeconds = Math.max(longestGraceSeconds, grace);
        log.info(`deleting pod ${podRef(pod)} on node ${node.name} (grace period: ${grace}s)`);
        try {
          if ((await retryUntil(() => this.cluster.deletePod(pod, grace, signal), signal)) === 'deleted') deleted++;
          reporter.eviction('deleted');
        } catch (e) {
          if (signal.aborted) throw e;
          // This pod's deletion is refused; the others are still deleted (the wait below names what remains).
          log.warn(`could not delete pod ${podRef(pod)} on node ${node.name}: ${describeError(e)}`, { error: e });
        }
      }
      reporter.event(NodeEvents.gracefulPodDeletionAfterDrainFailed(node.instanceId, deleted, node.name));
      const windowSeconds = longestGraceSeconds + ESCALATION_SLACK_SECONDS;
      const remaining = await this.awaitPodsGone(node.name, windowSeconds, signal);
      if (remaining.length > 0) {
        return { outcome: 'failed', attempts, reason: `pods still present after ${windowSeconds}s graceful force-delete window: ${remaining.slice(0, 5).map(podRef).join(', ')}` };
      }
      log.info(`graceful force-delete succeeded after drain failure on node ${node.name}`);
      return { outcome: 'escalated', attempts };
    } catch (e) {
      if (signal.aborted) throw e;
      return { outcome: 'failed', attempts, reason: `graceful force-delete failed after drain failure: ${describeError(e)}` };
    }
  }

  private async awaitPodsGone(nodeName: string, windowSeconds: number, signal: AbortSignal): Promise<PodInfo[]> {
    const { signal: windowSignal, dispose } = linkedSignal([signal], windowSeconds * 1000);
    let remaining: PodInfo[] = [];
    try {
      for (;;) {
        remaining = podsToDrain(await retryUntil(() => this.cluster.listPodsOnNode(nodeName, windowSignal), windowSignal)).filter((p) => !isTerminal(p));
        if (remaining.length === 0) return [];
        await sleep(this.config.pollIntervalMs, windowSignal);
      }
    } catch (e) {
      if (signal.aborted || !isAbort(e)) throw e;
      return remaining;
    } finally {
      dispose();
    }
  }
}
