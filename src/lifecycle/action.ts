/**
 * One paused termination: the identity AWS uses for a lifecycle action is (ASG, hook, instance);
 * the token is what completes it.
 */
export interface LifecycleAction {
  readonly autoScalingGroupName: string;
  readonly lifecycleHookName: string;
  readonly instanceId: string;
  readonly lifecycleActionToken: string;
  readonly requestId: string;
  /** When AWS says the action started (the message's Time); undefined when the format has none. */
  readonly messageTime: Date | undefined;
  /** Which envelope the message arrived in. */
  readonly format: MessageFormat;
  /**
   * True for an autoscaling:EC2_INSTANCE_LAUNCHING action (handled with --launch-hooks); absent for a termination,
   * which is also what a Lease written before launch hooks existed reads back as.
   */
  readonly launch?: boolean;
}

export type MessageFormat = 'autoscaling' | 'sns' | 'eventbridge';

export type LifecycleActionResult = 'CONTINUE' | 'ABANDON';

export const TERMINATING_TRANSITION = 'autoscaling:EC2_INSTANCE_TERMINATING';
export const LAUNCHING_TRANSITION = 'autoscaling:EC2_INSTANCE_LAUNCHING';
export const TEST_NOTIFICATION_EVENT = 'autoscaling:TEST_NOTIFICATION';

/** The key under which an action is tracked in flight: two messages for the same key are one action. */
export function actionKey(action: Pick<LifecycleAction, 'autoScalingGroupName' | 'lifecycleHookName' | 'instanceId'>): string {
  return `${action.autoScalingGroupName}/${action.lifecycleHookName}/${action.instanceId}`;
}

/** A lifecycle hook as DescribeLifecycleHooks reports it. */
export interface LifecycleHook {
  readonly autoScalingGroupName: string;
  readonly lifecycleHookName: string;
  readonly lifecycleTransition: string;
  readonly heartbeatTimeoutSeconds: number;
  /** AWS's hard limit on the wait state: min(48 h, 100 × HeartbeatTimeout). */
  readonly globalTimeoutSeconds: number;
  readonly defaultResult: string;
}

/** What DescribeAutoScalingInstances says about an instance. */
export interface AutoScalingInstance {
  readonly instanceId: string;
  readonly autoScalingGroupName: string;
  readonly lifecycleState: string;
}

export const TERMINATING_WAIT_STATE = 'Terminating:Wait';

/**
 * The lifecycle states in which a termination hook holds an instance: Terminating:Wait; Warmed:Terminating:Wait
 * (an instance in a warm pool being terminated); Warmed:Pending:Wait (an instance returning to the warm pool on
 * scale-in, with an instance reuse policy: it is stopped, not terminated, and its Node must go all the same).
 */
export const TERMINATION_WAIT_STATES: readonly string[] = [TERMINATING_WAIT_STATE, 'Warmed:Terminating:Wait', 'Warmed:Pending:Wait'];

export const LAUNCHING_WAIT_STATE = 'Pending:Wait';
/**
 * A launch into a warm pool: AWS stops (or hibernates) the instance as soon as it has launched, so its Node does
 * not become Ready now; the launch hook pauses it again in Pending:Wait when it leaves the pool.
 */
export const WARM_LAUNCHING_WAIT_STATE = 'Warmed:Pending:Wait';
/** The lifecycle states in which a launch hook holds an instance. */
export const LAUNCH_WAIT_STATES: readonly string[] = [LAUNCHING_WAIT_STATE, WARM_LAUNCHING_WAIT_STATE];
