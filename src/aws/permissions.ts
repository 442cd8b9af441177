/**
 * The AWS actions `serve` calls, declared once (doctor simulates them with iam:SimulatePrincipalPolicy; the IAM
 * policy documents should grant exactly these). `resource: 'queue'` actions can be scoped to the queue's ARN; the
 * others need "*" (Auto Scaling and Elastic Load Balancing describe calls support no resource scoping).
 */
export interface AwsPermission {
  readonly action: string;
  readonly resource: 'queue' | '*';
  /** Needed only with --with-deregister and this target type. */
  readonly targetType?: 'target-group' | 'classic-elb';
}

export const SERVE_AWS_PERMISSIONS: readonly AwsPermission[] = [
  { action: 'sqs:GetQueueUrl', resource: 'queue' },
  { action: 'sqs:GetQueueAttributes', resource: 'queue' },
  { action: 'sqs:ReceiveMessage', resource: 'queue' },
  { action: 'sqs:DeleteMessage', resource: 'queue' },
  { action: 'sqs:ChangeMessageVisibility', resource: 'queue' },
  { action: 'autoscaling:DescribeAutoScalingInstances', resource: '*' },
  { action: 'autoscaling:DescribeLifecycleHooks', resource: '*' },
  { action: 'autoscaling:RecordLifecycleActionHeartbeat', resource: '*' },
  { action: 'autoscaling:CompleteLifecycleAction', resource: '*' },
  { action: 'elasticloadbalancing:DescribeTargetGroups', resource: '*', targetType: 'target-group' },
  { action: 'elasticloadbalancing:DescribeTargetGroupAttributes', resource: '*', targetType: 'target-group' },
  { action: 'elasticloadbalancing:DescribeTargetHealth', resource: '*', targetType: 'target-group' },
  { action: 'elasticloadbalancing:DeregisterTargets', resource: '*', targetType: 'target-group' },
  { action: 'elasticloadbalancing:DescribeLoadBalancers', resource: '*', targetType: 'classic-elb' },
  { action: 'elasticloadbalancing:DescribeInstanceHealth', resource: '*', targetType: 'classic-elb' },
  { action: 'elasticloadbalancing:DeregisterInstancesFromLoadBalancer', resource: '*', targetType: 'classic-elb' },
];

/** The actions a `serve` configured with these deregistration settings calls. */
export function servePermissions(withDeregister: boolean, targetTypes: readonly string[]): AwsPermission[] {
  return SERVE_AWS_PERMISSIONS.filter((p) => !p.targetType || (withDeregister && targetTypes.includes(p.targetType)));
}
