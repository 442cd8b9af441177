import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * Every Prometheus series the service exports, declared once. The 14 `lifecycle_manager_*` series keep upstream's
 * names and meaning (dashboards depend on them) without its bugs: gauges are decremented on every exit path,
 * `failed_node_delete_total` is really incremented, and the average is a true mean.
 */
const NS = 'lifecycle_manager';
const DURATION_BUCKETS = [1, 5, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400];

/** What became of a webhook notice (--webhook-url). */
export type WebhookOutcome = 'delivered' | 'failed' | 'not_recorded' | 'suppressed' | 'dropped';

export type MessageOutcome = 'processed' | 'deleted' | 'left_for_redelivery' | 'released' | 'duplicate';

export class Metrics {
  readonly registry = new Registry();

  // Upstream-compatible series.
  readonly activeGoroutines = this.gauge('active_goroutines', 'indicates the current number of active goroutines. (Here: concurrent asynchronous tasks: the receive loop plus each in-flight action and its heartbeat.)');
  readonly terminatingInstances = this.gauge('terminating_instances_count', 'indicates the current number of terminating instances.');
  readonly drainingInstances = this.gauge('draining_instances_count', 'indicates the current number of draining instances.');
  readonly deregisteringInstances = this.gauge('deregistering_instances_count', 'indicates the current number of deregistering instances.');
  readonly averageDurationSeconds = this.gauge('average_duration_seconds', 'indicates the average duration of processing a hook in seconds. (A true mean over successful events since start.)');
  readonly successfulEvents = this.counter('successful_events_total', 'indicates the sum of all successful events.');
  readonly failedEvents = this.counter('failed_events_total', 'indicates the sum of all failed events.');
  readonly rejectedEvents = this.counter('rejected_events_total', 'indicates the sum of all rejected events.');
  readonly successfulNodeDrains = this.counter('successful_node_drain_total', 'indicates the sum of all events that succeeded to drain the node.');
  readonly failedNodeDrains = this.counter('failed_node_drain_total', 'indicates the sum of all events that failed to drain the node.');
  readonly successfulNodeDeletes = this.counter('successful_node_delete_total', 'indicates the sum of all events that succeeded to delete the node.');
  readonly failedNodeDeletes = this.counter('failed_node_delete_total', 'indicates the sum of all events that failed to delete the node.');
  readonly successfulLbDeregisters = this.counter('successful_lb_deregister_total', 'indicates the sum of all events that succeeded to deregister loadbalancer');
  readonly failedLbDeregisters = this.counter('failed_lb_deregister_total', 'indicates the sum of all events that failed to deregister loadbalancer.');

  // The same three gauges under names that promtool's lint accepts: a `_count` suffix belongs to histograms and
  // summaries. They read the upstream gauges when scraped, so both names always agree.
  readonly terminatingInstancesNow = this.mirror('terminating_instances', 'Instances whose termination is being processed now (lifecycle_manager_terminating_instances_count, named for promtool\'s lint).', this.terminatingInstances);
  readonly drainingInstancesNow = this.mirror('draining_instances', 'Instances being drained now (lifecycle_manager_draining_instances_count, named for promtool\'s lint).', this.drainingInstances);
  readonly deregisteringInstancesNow = this.mirror('deregistering_instances', 'Instances being deregistered from load balancers now (lifecycle_manager_deregistering_instances_count, named for promtool\'s lint).', this.deregisteringInstances);

  // New series.
  readonly messages = new Counter({ name: `${NS}_messages_total`, help: 'SQS messages by what was done with them and why.', labelNames: ['outcome', 'reason'] as const, registers: [this.registry] });
  readonly lifecycleActionsCompleted = new Counter({ name: `${NS}_lifecycle_actions_completed_total`, help: 'CompleteLifecycleAction calls by result (CONTINUE, ABANDON) and whether AWS still had the action (completed, gone).', labelNames: ['result', 'status'] as const, registers: [this.registry] });
  readonly heartbeats = new Counter({ name: `${NS}_heartbeats_total`, help: 'RecordLifecycleActionHeartbeat calls by result (sent, retried, gone).', labelNames: ['result'] as const, registers: [this.registry] });
  readonly evictions = new Counter({ name: `${NS}_pod_evictions_total`, help: 'Eviction requests by outcome (evicted, gone, blocked-by-pdb, refused) and pod deletions after a failed drain (deleted).', labelNames: ['outcome'] as const, registers: [this.registry] });
  readonly stepFailures = new Counter({ name: `${NS}_step_failures_total`, help: 'Steps of a termination that failed, by step, failure class (transient, permanent, timeout, forbidden) and the policy applied (release-message, degrade-and-continue, abandon, leave-to-aws, log-and-continue).', labelNames: ['step', 'class', 'policy'] as const, registers: [this.registry] });
  readonly eventDuration = new Histogram({ name: `${NS}_event_duration_seconds`, help: 'Time from receiving a lifecycle action to completing it, by result.', labelNames: ['result'] as const, buckets: DURATION_BUCKETS, registers: [this.registry] });
  readonly phaseDuration = new Histogram({ name: `${NS}_phase_duration_seconds`, help: 'Time spent in each step of an action (verify, claim, await_node, cordon, plan_drain, deregister, drain, await_volumes, delete_node, complete, settle) and by each drain tier (drain_tier_non_critical, drain_tier_critical).', labelNames: ['phase'] as const, buckets: [0.1, 0.5, ...DURATION_BUCKETS], registers: [this.registry] });
  readonly deadlineMarginSeconds = new Histogram({ name: `${NS}_hook_deadline_margin_seconds`, help: 'Seconds left before the action deadline when the action was completed.', buckets: [10, 30, 60, 300, 900, 1800, 3600, 14400, 86400], registers: [this.registry] });
  readonly drainPlanProblems = new Counter({ name: `${NS}_drain_plan_problems_total`, help: 'Problems the drain plan found before the first eviction, by kind (pdb-allows-no-disruption, several-pdbs, grace-period-exceeds-budget, no-controller, local-storage), one per pod.', labelNames: ['kind'] as const, registers: [this.registry] });
  readonly volumeDetachments = new Counter({ name: `${NS}_volume_detachment_waits_total`, help: 'Waits for a drained node\'s VolumeAttachments to go, by outcome (detached, timed-out, unknown); nodes without attachments are not counted.', labelNames: ['outcome'] as const, registers: [this.registry] });
  readonly dryRunPlans = new Counter({ name: `${NS}_dry_run_plans_total`, help: 'Lifecycle actions planned and left alone under --dry-run, by whether every read for the plan succeeded (complete, partial).', labelNames: ['outcome'] as const, registers: [this.registry] });
  readonly awsCalls = new Counter({ name: `${NS}_aws_api_calls_total`, help: 'AWS API operations issued (before SDK retries), by service and operation.', labelNames: ['service', 'operation'] as const, registers: [this.registry] });
  readonly apiErrors = new Counter({ name: `${NS}_api_errors_total`, help: 'Failed AWS and Kubernetes API requests, each attempt (those retried included), by api (aws, kubernetes), operation and code (HTTP status, timeout, network).', labelNames: ['api', 'operation', 'code'] as const, registers: [this.registry] });
  readonly kubeCalls = new Counter({ name: `${NS}_kube_api_calls_total`, help: 'Kubernetes API requests, by verb and resource.', labelNames: ['verb', 'resource'] as const, registers: [this.registry] });
  readonly lbDeregistrationWait = new Histogram({ name: `${NS}_lb_deregistration_wait_seconds`, help: 'Time from deregistering a target until the load balancer reported it gone or unused.', labelNames: ['type'] as const, buckets: [1, 5, 10, 30, 60, 120, 300, 600, 900, 1800, 3600], registers: [this.registry] });
  readonly webhookDeliveries = new Counter({ name: `${NS}_webhook_deliveries_total`, help: 'Webhook notices by event (received, drained, completed, failed) and outcome: delivered (a 2xx answer), failed (a 4xx answer, the retries within --webhook-delivery-timeout spent, or a template that failed to render), not_recorded (its record could not be written in the action\'s Lease: not sent rather than risk a duplicate), suppressed (already recorded for the action: sent before a restart or by another replica), dropped (shutting down, or too many waiting).', labelNames: ['event', 'outcome'] as const, registers: [this.registry] });
  readonly webhookFailedAttempts = new Counter({ name: `${NS}_webhook_failed_attempts_total`, help: 'Webhook POST attempts that failed, by event and code (HTTP status, timeout, network), the retried ones included.', labelNames: ['event', 'code'] as const, registers: [this.registry] });

  private successCount = 0;
  private successSeconds = 0;

  constructor(options: { defaultMetrics?: boolean } = {}) {
    if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: this.registry });
  }

  /** Records a finished action; keeps `average_duration_seconds` a true mean of successful ones. */
  recordEventFinished(result: 'CONTINUE' | 'ABANDON' | 'dropped' | 'failed', seconds: number): void {
    this.eventDuration.observe({ result }, seconds);
    if (result === 'CONTINUE') {
      this.successfulEvents.inc();
      this.successCount++;
      this.successSeconds += seconds;
      this.averageDurationSeconds.set(this.successSeconds / this.successCount);
    } else if (result === 'ABANDON' || result === 'failed') {
      this.failedEvents.inc();
    }
  }

  /**
   * Counts what was done with a message and why. Everything but a processed action (CONTINUE, ABANDON, or AWS no
   * longer having it) and a duplicate joining an action in flight also counts as upstream's "rejected" event.
   */
  recordMessage(outcome: MessageOutcome, reason: string): void {
    this.messages.inc({ outcome, reason });
    if (outcome !== 'processed' && outcome !== 'duplicate') this.rejectedEvents.inc();
  }

  private gauge(name: string, help: string): Gauge {
    return new Gauge({ name: `${NS}_${name}`, help, registers: [this.registry] });
  }

  private mirror(name: string, help: string, source: Gauge): Gauge {
    return new Gauge({
      name: `${NS}_${name}`, help, registers: [this.registry],
      async collect() {
        this.set((await source.get()).values[0]?.value ?? 0);
      },
    });
  }

  private counter(name: string, help: string): Counter {
    return new Counter({ name: `${NS}_${name}`, help, registers: [this.registry] });
  }
}
