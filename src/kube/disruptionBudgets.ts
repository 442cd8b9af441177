import type * as k8s from '@kubernetes/client-node';
import type { BudgetInfo } from '../lifecycle/ports.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { KubeClients } from './apiClients.js';
import { type WatchHealth, type WatchTimings, WatchedCollection } from './watchedCollection.js';

/** What the drain plan needs of a PodDisruptionBudget: its namespace, name, selector and disruptionsAllowed. */
export function toBudgetInfo(pdb: k8s.V1PodDisruptionBudget): BudgetInfo {
  const selector = pdb.spec?.selector;
  return {
    namespace: pdb.metadata?.namespace ?? '', name: pdb.metadata?.name ?? '',
    selector: selector ? {
      matchLabels: selector.matchLabels ?? {},
      matchExpressions: (selector.matchExpressions ?? []).map((e) => ({ key: e.key, operator: e.operator, values: e.values ?? [] })),
    } : undefined,
    disruptionsAllowed: pdb.status?.disruptionsAllowed ?? 0,
  };
}

/** Where the drain plan reads the cluster's budgets from without an API call; undefined: ask the apiserver. */
export interface BudgetIndex {
  current(): BudgetInfo[] | undefined;
}

/**
 * The cluster's PodDisruptionBudgets (policy/v1) from one LIST at start and a watch: the drain plan reads them with
 * no API call per event. Only what the plan needs is kept of each. While the watch is not current (not synced, failing,
 * stalled, relisting) `current()` is undefined and the plan LISTs them as before.
 */
export class WatchedDisruptionBudgets implements BudgetIndex {
  private readonly budgets: WatchedCollection<k8s.V1PodDisruptionBudget, BudgetInfo>;

  constructor(clients: KubeClients, log: Logger, metrics: Metrics, timings: WatchTimings) {
    this.budgets = new WatchedCollection(clients, {
      noun: 'PodDisruptionBudget', resource: 'poddisruptionbudgets', watchPath: '/apis/policy/v1/poddisruptionbudgets',
      list: (page, o) => clients.policy.listPodDisruptionBudgetForAllNamespaces(page, o),
      keyOf: (pdb) => (pdb.metadata?.name ? `${pdb.metadata.namespace ?? ''}/${pdb.metadata.name}` : undefined),
      toInfo: toBudgetInfo,
    }, undefined, log, metrics, timings);
  }

  health(nowMs = Date.now()): WatchHealth {
    return this.budgets.health(nowMs);
  }

  start(): Promise<void> {
    return this.budgets.start();
  }

  stop(): Promise<void> {
    return this.budgets.stop();
  }

  current(): BudgetInfo[] | undefined {
    return this.budgets.isCurrent() ? [...this.budgets.values()] : undefined;
  }
}
