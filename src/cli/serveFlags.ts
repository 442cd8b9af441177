/**
 * Every `serve` flag, declared once: commander options, environment variables, the README's flags table and the
 * Helm chart's values are all derived from this list. Values stay strings here; config.ts validates them together
 * so that every problem is reported at once.
 */
export type FlagKind = 'string' | 'int' | 'bool' | 'list';

export interface FlagSpec {
  readonly name: string;
  readonly kind: FlagKind;
  readonly defaultValue: string;
  readonly description: string;
  /** True for the 16 flags upstream lifecycle-manager has, with the same name and default. */
  readonly upstream: boolean;
  /** Bounds of an int flag (serve's validation and the chart's values.schema.json both use them). */
  readonly min?: number;
  readonly max?: number;
  /** The values a string flag accepts, or a list flag's items. */
  readonly choices?: readonly string[];
}

/**
 * Longest any time flag may be: what AWS lets a lifecycle action last (48 h, MAX_GLOBAL_TIMEOUT_SECONDS). It keeps
 * every wait inside what a Node.js timer can represent, and a longer value could never be used anyway.
 */
export const MAX_SECONDS = 48 * 3600;

export const SERVE_FLAGS: readonly FlagSpec[] = [
  { name: 'local-mode', kind: 'string', defaultValue: '', upstream: true, description: 'absolute path to a kubeconfig file; empty uses the in-cluster service account (or $KUBECONFIG outside a cluster)' },
  { name: 'region', kind: 'string', defaultValue: '', upstream: true, description: 'AWS region of the queue and the Auto Scaling groups; falls back to $AWS_REGION' },
  { name: 'queue-name', kind: 'string', defaultValue: '', upstream: true, description: 'name of the SQS queue the lifecycle hooks notify (required)' },
  { name: 'kubectl-path', kind: 'string', defaultValue: '/usr/local/bin/kubectl', upstream: true, description: 'accepted for compatibility and unused: drains go through the Kubernetes API, no kubectl is needed' },
  { name: 'log-level', kind: 'string', defaultValue: 'info', upstream: true, choices: ['debug', 'info', 'warn', 'warning', 'error'], description: 'debug, info, warn (or warning) or error' },
  { name: 'max-drain-concurrency', kind: 'int', defaultValue: '32', upstream: true, min: 1, max: 10_000, description: 'how many nodes drain at once; further hooks keep heartbeating while they wait their turn' },
  { name: 'max-time-to-process', kind: 'int', defaultValue: '3600', upstream: true, min: 1, max: MAX_SECONDS, description: 'seconds an action may take from receipt before it is abandoned; also capped by the hook\'s global timeout' },
  { name: 'max-termination-grace-period', kind: 'int', defaultValue: '900', upstream: true, min: 0, max: MAX_SECONDS, description: 'seconds: grace cap when pods are deleted after every drain attempt failed; 0 disables that escalation' },
  { name: 'drain-timeout', kind: 'int', defaultValue: '300', upstream: true, min: 0, max: MAX_SECONDS, description: 'seconds per drain attempt; 0 skips draining' },
  { name: 'drain-timeout-unknown', kind: 'int', defaultValue: '30', upstream: true, min: 0, max: MAX_SECONDS, description: 'seconds per drain attempt when the node\'s Ready condition is Unknown; 0 skips draining such nodes' },
  { name: 'drain-interval', kind: 'int', defaultValue: '30', upstream: true, min: 0, max: MAX_SECONDS, description: 'seconds to wait between drain attempts' },
  { name: 'drain-retries', kind: 'int', defaultValue: '3', upstream: true, min: 1, max: 1000, description: 'drain attempts in total (at least 1)' },
  { name: 'polling-interval', kind: 'int', defaultValue: '10', upstream: true, min: 0, max: 20, description: 'SQS long-poll wait in seconds (0-20)' },
  { name: 'with-deregister', kind: 'bool', defaultValue: 'true', upstream: true, description: 'label the node to be excluded from load balancers and deregister the instance from target groups and classic ELBs' },
  { name: 'deregister-target-types', kind: 'list', defaultValue: 'classic-elb,target-group', upstream: true, choices: ['classic-elb', 'target-group'], description: 'comma separated list of target types to deregister instance from (classic-elb, target-group)' },
  { name: 'deregister-order', kind: 'string', defaultValue: 'before-drain', upstream: false, choices: ['before-drain', 'after-drain'], description: 'before-drain or after-drain: when the instance leaves its load balancers. before-drain (default) stops the load balancer sending new requests and lets open connections drain while the pods still run, so no request reaches a pod being evicted (NTH #858), and the pods\' IPs are still known for ip target groups; after-drain is upstream\'s order' },
  { name: 'deregistration-timeout', kind: 'int', defaultValue: '600', upstream: false, min: 0, max: MAX_SECONDS, description: 'seconds the load-balancer step may wait for the instance\'s targets to finish draining connections; when they have not, that is reported (Event, metric) and the node is drained anyway. The wait is also cut short so that the drain always keeps its full budget. 0 deregisters without waiting' },
  { name: 'volume-detach-timeout', kind: 'int', defaultValue: '120', upstream: false, min: 0, max: MAX_SECONDS, description: 'seconds to wait, after the pods are gone, for the node\'s VolumeAttachments to go (the attach/detach controller detaching the drained pods\' volumes) before the Node is deleted and the action completed, so a replacement StatefulSet pod does not wait for a forced detach; when they have not gone, that is reported (Event, metric) and the action completes anyway. 0 does not wait' },
  { name: 'lb-discovery', kind: 'string', defaultValue: 'targeted+scan', upstream: false, choices: ['targeted', 'scan', 'targeted+scan'], description: 'how the load balancers holding an instance are found. targeted: only the cluster\'s own — attached to its Auto Scaling group or bound by a TargetGroupBinding of the AWS Load Balancer Controller (fewest calls; misses targets registered by hand or by other tools). scan: the region index only (every target group and classic load balancer, read once and kept in the background, shared by every event). targeted+scan (default): both; an instance found in the cluster\'s own groups does not wait for the index' },
  { name: 'lb-scan-ttl', kind: 'int', defaultValue: '60', upstream: false, min: 0, max: 3600, description: 'seconds after which the region index reads a target group again in the background (the cluster\'s groups first; the index spends a fixed 1/50 of --lb-api-rate, so in a large region the others are read less often) and an Auto Scaling group\'s attachments are read again; an event never uses a read made before its Node existed' },
  { name: 'lb-api-rate', kind: 'int', defaultValue: '5', upstream: false, min: 1, max: 1000, description: 'Elastic Load Balancing calls per second for each API operation (bursts of twice that); AWS throttles the whole account per region, so leave room for other clients such as the AWS Load Balancer Controller' },
  { name: 'dry-run', kind: 'bool', defaultValue: 'false', upstream: false, description: 'read and decide everything (verification, the Node, pods, PodDisruptionBudgets, load balancers, volumes) and change nothing: no Lease, cordon, label, taint, eviction, deregistration, Node deletion, heartbeat or completion. The plan is logged and published as one DryRunPlan Event on the Node, then the message is deleted, so the hook ends with its DefaultResult as if nothing were installed. Needs only read permissions and events create' },
  { name: 'cordon-only', kind: 'bool', defaultValue: 'false', upstream: false, description: 'cordon and label the node, deregister it from load balancers and complete the lifecycle action, without evicting anything (no drain plan, volume wait or Node deletion either: its pods keep running until the instance goes)' },
  { name: 'taint-node', kind: 'bool', defaultValue: 'false', upstream: false, description: 'also taint the node lifecycle-manager.io/terminating=<instance-id> with --taint-effect when cordoning it; the taint is removed again if the action is abandoned and the Node stays' },
  { name: 'taint-effect', kind: 'string', defaultValue: 'NoSchedule', upstream: false, choices: ['NoSchedule', 'PreferNoSchedule', 'NoExecute'], description: 'effect of the --taint-node taint: NoSchedule, PreferNoSchedule or NoExecute (NoExecute has the taint manager delete every pod that does not tolerate it, without PodDisruptionBudgets: not with --cordon-only)' },
  { name: 'refresh-expired-credentials', kind: 'bool', defaultValue: 'false', upstream: true, description: 'read AWS credentials from the shared credentials file ($AWS_SHARED_CREDENTIALS_FILE, profile $AWS_PROFILE) and re-read it every 5 minutes' },
  { name: 'log-format', kind: 'string', defaultValue: 'text', upstream: false, choices: ['text', 'json'], description: 'text (upstream-style time=… level=… msg=…) or json' },
  { name: 'metrics-address', kind: 'string', defaultValue: ':8080', upstream: false, description: 'listen address for /metrics, /healthz and /readyz' },
  { name: 'max-in-flight', kind: 'int', defaultValue: '500', upstream: false, min: 1, max: 100_000, description: 'messages worked on at once; receiving pauses at this number (waiting actions are cheap, so keep it generous)' },
  { name: 'visibility-timeout', kind: 'int', defaultValue: '120', upstream: false, min: 10, max: 43200, description: 'seconds a received message stays invisible; it is extended every half of that while the action runs (10-43200). Progress is durable in the action\'s Lease, so this only bounds how soon a message that never reached one is redelivered' },
  { name: 'node-join-timeout', kind: 'int', defaultValue: '120', upstream: false, min: 0, max: MAX_SECONDS, description: 'seconds a hook for an instance without a Node waits, heartbeating, for the Node to register before completing CONTINUE' },
  { name: 'launch-hooks', kind: 'bool', defaultValue: 'false', upstream: false, description: 'handle launch lifecycle actions (autoscaling:EC2_INSTANCE_LAUNCHING; enroll --launch-hook creates the hook): heartbeat while the instance\'s Node registers and becomes Ready (with --launch-wait-daemonsets, its DaemonSet pods too), then complete CONTINUE; when that does not happen within --launch-timeout, complete ABANDON, so Auto Scaling terminates the instance (a Warning Event, a metric and an error log say so). A launch into a warm pool (Warmed:Pending:Wait) is completed CONTINUE at once: AWS stops the instance, and its Node is waited for when it leaves the pool. false: launch messages are deleted unprocessed' },
  { name: 'launch-timeout', kind: 'int', defaultValue: '600', upstream: false, min: 1, max: MAX_SECONDS, description: 'seconds, from a launch message\'s first receipt, for the instance\'s Node (and with --launch-wait-daemonsets its DaemonSet pods) to be Ready before the launch is abandoned; with the completion it must fit --max-time-to-process, and well inside the launch hook\'s global timeout (doctor checks)' },
  { name: 'launch-wait-daemonsets', kind: 'bool', defaultValue: 'false', upstream: false, description: 'with --launch-hooks, also wait until every DaemonSet pod scheduled to the new Node (CNI, CSI, log agents) is Ready before completing CONTINUE' },
  { name: 'verify-lifecycle-state', kind: 'bool', defaultValue: 'true', upstream: false, description: 'before touching a node, check with DescribeAutoScalingInstances that the instance is in Terminating:Wait in the message\'s group (Pending:Wait for a launch); turn off only for setups that cannot grant that call (--launch-hooks needs it)' },
  { name: 'api-timeout', kind: 'int', defaultValue: '30', upstream: false, min: 1, max: 300, description: 'seconds an AWS or Kubernetes API request may go unanswered before it is abandoned and retried like a 5xx (an SQS long poll gets --polling-interval on top) (1-300)' },
  { name: 'node-watch-timeout', kind: 'int', defaultValue: '300', upstream: false, min: 10, max: 3600, description: 'seconds after which the apiserver ends each node watch request, which is then started again; a watch that shows no sign of life for 1.5 times this is restarted and makes /readyz fail until it recovers (10-3600)' },
  { name: 'cluster-name', kind: 'string', defaultValue: '', upstream: false, description: 'act only on Auto Scaling groups tagged for this cluster (kubernetes.io/cluster/<name>, eks:cluster-name); other messages are released for their own cluster, never deleted, so clusters can share a queue' },
  { name: 'lease-namespace', kind: 'string', defaultValue: '', upstream: false, description: 'namespace of the Leases that record progress and ownership (one per action in flight, one per replica); empty = $POD_NAMESPACE, else the service account\'s namespace, else lifecycle-manager' },
  { name: 'lease-duration', kind: 'int', defaultValue: '60', upstream: false, min: 5, max: 300, description: 'longest time in seconds a replica may go without renewing its Lease before another replica (or a restart) takes its actions over; each action uses a third of its hook\'s HeartbeatTimeout when that is shorter (5-300)' },
  { name: 'webhook-url', kind: 'string', defaultValue: '', upstream: false, description: 'http:// or https:// URL that notices about each termination (not launches) are POSTed to (received, drained, completed, failed: --webhook-events), at most once per action and event across restarts and replicas; empty sends none. Prefer --webhook-url-file when the URL carries a secret (a Slack webhook does). HTTPS_PROXY, HTTP_PROXY and NO_PROXY are honoured' },
  { name: 'webhook-url-file', kind: 'string', defaultValue: '', upstream: false, description: 'file holding the webhook URL (a Secret mounted as a file), read at startup; instead of --webhook-url' },
  { name: 'webhook-headers-file', kind: 'string', defaultValue: '', upstream: false, description: 'file of extra request headers, one "Name: value" per line (# comments), e.g. an Authorization header from a Secret; read at startup' },
  { name: 'webhook-template', kind: 'string', defaultValue: '', upstream: false, description: 'Liquid template file for the request body, checked at startup (it must render, and render JSON while the Content-Type is JSON: use the json filter, {{ text | json }}). Variables: event, text (the default message), instanceId, nodeName, autoScalingGroupName, lifecycleHookName, requestId, result, cause, degradedSteps, elapsedSeconds, time, clusterName, dryRun, plan (--dry-run: one received notice with the plan). Empty: the Slack-compatible {"text": "…"}' },
  { name: 'webhook-events', kind: 'list', defaultValue: 'received,drained,completed,failed', upstream: false, choices: ['received', 'drained', 'completed', 'failed'], description: 'comma separated events to post: received (verified and claimed), drained (the drain succeeded), completed (CONTINUE), failed (completed ABANDON, or the completion failed)' },
  { name: 'webhook-timeout', kind: 'int', defaultValue: '5', upstream: false, min: 1, max: 60, description: 'seconds each webhook attempt may wait for an answer (1-60)' },
  { name: 'webhook-delivery-timeout', kind: 'int', defaultValue: '60', upstream: false, min: 1, max: 3600, description: 'seconds a notice may take to be delivered, from its event: 5xx, 408, 429 (its Retry-After honoured), timeouts and network failures are retried with backoff until then; other answers are final. Deliveries never hold up an action (1-3600)' },
];

/** `queue-name` → `LIFECYCLE_MANAGER_QUEUE_NAME`. */
export function envVarName(flag: string): string {
  return `LIFECYCLE_MANAGER_${flag.toUpperCase().replace(/-/gu, '_')}`;
}

/** `queue-name` → `queueName` (commander's attribute name). */
export function attributeName(flag: string): string {
  return flag.replace(/-([a-z])/gu, (_, c: string) => c.toUpperCase());
}
