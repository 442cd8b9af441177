import type { NodeEvent } from '../lifecycle/ports.js';

/**
 * The vocabulary of Kubernetes Events published on the Node, declared once so a reason can never be paired with
 * the wrong message. Reasons match upstream lifecycle-manager's; messages are plain sentences.
 */
export const NodeEvents = {
  lifecycleHookReceived: (requestId: string, instanceId: string, group: string): NodeEvent => ({
    reason: 'LifecycleHookReceived', type: 'Normal',
    message: `lifecycle hook for event ${requestId} was received, instance ${instanceId} (Auto Scaling group ${group}) will begin processing`,
  }),
  lifecycleHookProcessed: (requestId: string, instanceId: string, seconds: number, degradedSteps: readonly string[] = []): NodeEvent => ({
    reason: 'LifecycleHookProcessed', type: 'Normal',
    message: `lifecycle hook for event ${requestId} has completed processing, instance ${instanceId} gracefully terminated after ${seconds.toFixed(1)}s${degradedSteps.length > 0 ? ` (steps that failed and were worked around: ${degradedSteps.join(', ')})` : ''}`,
  }),
  lifecycleHookFailed: (requestId: string, seconds: number, cause: string): NodeEvent => ({
    reason: 'LifecycleHookFailed', type: 'Warning',
    message: `lifecycle hook for event ${requestId} has failed processing after ${seconds.toFixed(1)}s: ${cause}`,
  }),
  lifecycleStepFailed: (step: string, failureClass: string, cause: string, consequence: string): NodeEvent => ({
    reason: 'LifecycleStepFailed', type: 'Warning',
    message: `step ${step} failed (${failureClass}): ${cause}; ${consequence}`,
  }),
  launchReady: (instanceId: string, node: string, seconds: number, what: string): NodeEvent => ({
    reason: 'LaunchReady', type: 'Normal',
    message: `instance ${instanceId} launched and its node ${node} is Ready${what} after ${seconds.toFixed(1)}s; its launch lifecycle action completed with CONTINUE`,
  }),
  launchAbandoned: (instanceId: string, seconds: number, cause: string): NodeEvent => ({
    reason: 'LaunchAbandoned', type: 'Warning',
    message: `launch of instance ${instanceId} abandoned after ${seconds.toFixed(1)}s: ${cause}; Auto Scaling terminates the instance`,
  }),
  podEvictionRefused: (pod: string, cause: string): NodeEvent => ({
    reason: 'PodEvictionRefused', type: 'Warning',
    message: `eviction of pod ${pod} was refused: ${cause}; it is retried while the other pods keep draining`,
  }),
  drainPlanWarning: (node: string, plan: string): NodeEvent => ({
    reason: 'DrainPlanWarning', type: 'Warning',
    message: `drain of node ${node} (its instance is terminating): ${plan}`,
  }),
  /** On a blocking pod's owner (or the pod itself), in its namespace. */
  drainPlanWarningForOwner: (node: string, problems: string): NodeEvent => ({
    reason: 'DrainPlanWarning', type: 'Warning',
    message: `node ${node} is being drained for an instance termination; ${problems}`,
  }),
  evictingPodTier: (node: string, tier: string, what: string): NodeEvent => ({
    reason: 'EvictingPodTier', type: 'Normal',
    message: `node ${node}, ${tier} tier: ${what}`,
  }),
  volumesDetached: (node: string, count: number, seconds: number): NodeEvent => ({
    reason: 'VolumesDetached', type: 'Normal',
    message: `the ${count} volumes of the pods drained from node ${node} were detached after ${seconds.toFixed(1)}s`,
  }),
  dryRunPlan: (plan: string): NodeEvent => ({
    reason: 'DryRunPlan', type: 'Normal',
    message: `dry run, nothing was changed: ${plan}`,
  }),
  nodeDrainSucceeded: (node: string): NodeEvent => ({
    reason: 'NodeDrainSucceeded', type: 'Normal',
    message: `node ${node} has been drained successfully as a response to a termination event`,
  }),
  nodeDrainFailed: (node: string, cause: string): NodeEvent => ({
    reason: 'NodeDrainFailed', type: 'Warning',
    message: `node ${node} draining has failed: ${cause}`,
  }),
  gracefulPodDeletionAfterDrainFailed: (instanceId: string, deleted: number, node: string): NodeEvent => ({
    reason: 'GracefulPodDeletionAfterDrainFailed', type: 'Warning',
    message: `instance ${instanceId} drain failed, deleted ${deleted} pods for graceful termination on node ${node}`,
  }),
  nodeDeleteSucceeded: (node: string): NodeEvent => ({
    reason: 'NodeDeleteSucceeded', type: 'Normal',
    message: `node ${node} has been deleted successfully as a response to a termination event`,
  }),
  nodeDeleteFailed: (node: string, cause: string): NodeEvent => ({
    reason: 'NodeDeleteFailed', type: 'Warning',
    message: `node ${node} deletion has failed: ${cause}`,
  }),
  targetDeregisterSucceeded: (target: string, targetGroup: string): NodeEvent => ({
    reason: 'TargetDeregisterSucceeded', type: 'Normal',
    message: `target ${target} has successfully deregistered from target group ${targetGroup}`,
  }),
  targetDeregisterFailed: (target: string, targetGroup: string, cause: string): NodeEvent => ({
    reason: 'TargetDeregisterFailed', type: 'Warning',
    message: `target ${target} has failed to deregister from target group ${targetGroup}: ${cause}`,
  }),
  instanceDeregisterSucceeded: (instanceId: string, elb: string): NodeEvent => ({
    reason: 'InstanceDeregisterSucceeded', type: 'Normal',
    message: `instance ${instanceId} has successfully deregistered from classic-elb ${elb}`,
  }),
  instanceDeregisterFailed: (instanceId: string, elb: string, cause: string): NodeEvent => ({
    reason: 'InstanceDeregisterFailed', type: 'Warning',
    message: `instance ${instanceId} has failed to deregister from classic-elb ${elb}: ${cause}`,
  }),
} as const;

/** An Event's message is capped at 1024 characters by the recorder; a combined one says what it left out first. */
const MAX_COMBINED_MESSAGE_CHARS = 1024;

/**
 * One Event standing for several of the same reason on the same object — a node leaving ten target groups makes one
 * TargetDeregisterSucceeded Event with `count` 10, not ten Events (ten API calls). Each occurrence's own message is
 * kept, in order, joined by "; ", so text searched for in a single Event still matches; when they do not fit, the
 * message says how many it leaves out.
 */
export function combineEvents(events: readonly NodeEvent[]): NodeEvent {
  const [first] = events;
  if (!first) throw new Error('combineEvents: no events');
  if (events.some((e) => e.reason !== first.reason || e.type !== first.type)) throw new Error(`combineEvents: events of different reasons (${first.reason})`);
  if (events.length === 1) return first;
  const shown: string[] = [];
  let length = 0;
  for (const [i, e] of events.entries()) {
    const rest = events.length - i - 1;
    const tail = rest > 0 ? `; and ${rest} more` : '';
    if (length + e.message.length + 2 + tail.length > MAX_COMBINED_MESSAGE_CHARS && shown.length > 0) {
      shown.push(`and ${events.length - i} more`);
      break;
    }
    shown.push(e.message);
    length += e.message.length + 2;
  }
  return { reason: first.reason, type: first.type, message: shown.join('; '), count: events.length };
}
