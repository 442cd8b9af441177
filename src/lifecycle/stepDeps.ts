import type { NodeDrainer } from '../drain/drainer.js';
import type { VolumeDetachmentWait } from '../drain/volumeDetachment.js';
import type { Metrics } from '../observability/metrics.js';
import type { ActionContext } from './actionContext.js';
import type { ActionRegistry } from './actionRegistry.js';
import type {
  ActionStore, AutoScalingPort, ClusterPort, ClusterScope, EventRecorder, InstancesPort, LoadBalancerDeregistrar, NodeDirectory,
} from './ports.js';
import type { InstanceWork } from './instanceWork.js';
import type { Semaphore } from './semaphore.js';
import type { SharedQueueWatch } from './sharedQueue.js';
import type { TimeBudgetSettings } from './timeBudget.js';

export interface StepConfig {
  readonly verifyLifecycleState: boolean;
  readonly maxTimeToProcessSeconds: number;
  readonly deregisterOrder: 'before-drain' | 'after-drain';
  readonly withDeregister: boolean;
  readonly nodeJoinTimeoutSeconds: number;
  /** Labels set together with the cordon: the exclude-from-load-balancer labels when --with-deregister. */
  readonly nodeLabels: Readonly<Record<string, string>>;
  /** --cordon-only: cordon, labels, load balancers and completion; no plan, eviction, volume wait or Node deletion. */
  readonly cordonOnly: boolean;
  /** --taint-node: a taint set with the cordon, removed again when the action is abandoned and the Node stays. */
  readonly taint: import('./ports.js').NodeTaint | undefined;
  /** --dry-run: read and decide everything, change nothing; the plan is published and the message deleted. */
  readonly dryRun: boolean;
  /** Visibility delay before a message whose step failed before the action was claimed is received again. */
  readonly retryLaterSeconds: number;
  /** The time terms the steps' shares are computed from. */
  readonly budget: TimeBudgetSettings;
  /** Launch lifecycle actions (--launch-hooks); undefined: launch messages are deleted unprocessed. */
  readonly launch?: LaunchSettings;
}

/** How a launch is waited for (--launch-timeout, --launch-wait-daemonsets). */
export interface LaunchSettings {
  /** From the message's first receipt until the Node (and its DaemonSet pods) must be Ready. */
  readonly timeoutSeconds: number;
  readonly waitForDaemonSets: boolean;
  /** How often the DaemonSet pods on the Node are listed while some are not Ready (default 2 s). */
  readonly pollIntervalMs?: number;
}

/** What the steps of a termination use; adapters implement the ports, unit tests fake them. */
export interface StepDeps {
  readonly config: StepConfig;
  readonly autoScaling: AutoScalingPort;
  /** EC2 DescribeInstances (the instance's VPC and private DNS name); undefined leaves ip targets alone. */
  readonly instances: InstancesPort | undefined;
  readonly nodes: NodeDirectory;
  readonly cluster: ClusterPort;
  readonly drainer: NodeDrainer;
  /** Waits for a drained node's VolumeAttachments to go; undefined does not wait (unit tests). */
  readonly volumes: VolumeDetachmentWait | undefined;
  /** Events on the Node (through the action) and on the owners of pods that block a drain. */
  readonly events: EventRecorder;
  readonly deregistrar: LoadBalancerDeregistrar | undefined;
  /** Durable ownership of actions across replicas and restarts; undefined runs without (unit tests). */
  readonly store: ActionStore | undefined;
  readonly scope: ClusterScope;
  readonly registry: ActionRegistry;
  readonly metrics: Metrics;
  readonly drainSlots: Semaphore;
  /** Drains and Node deletions shared by the actions of one instance (several termination hooks). */
  readonly instanceWork: InstanceWork;
  readonly sharedQueue: SharedQueueWatch;
  /**
   * Starts the heartbeats of a verified action (once per action): right after verification, not after the claim, so
   * a slow apiserver (the Lease's creation) cannot keep a hook from hearing from us. They end when the action does.
   */
  readonly startHeartbeats: (ctx: ActionContext) => void;
  /** Starts the ownership of a claimed action (phase writes, the replica's liveness) and its heartbeats if not yet. */
  readonly keepAlive: (ctx: ActionContext) => void;
}
