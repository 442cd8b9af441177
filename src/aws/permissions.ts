/**
 * The AWS actions `serve` calls, declared once: doctor simulates them with iam:SimulatePrincipalPolicy, and a unit
 * test keeps deploy/iam/serve-policy.json granting exactly these. `resource` says what a least-privilege policy
 * scopes the action to, so the simulation asks about a matching resource instead of "*".
 */
export type PermissionResource = 'queue' | 'group' | 'target-group' | 'classic-elb' | '*';

export interface AwsPermission {
  readonly action: string;
  readonly resource: PermissionResource;
  /** Needed only with --with-deregister (and, when set, this target type). */
  readonly deregister?: 'any' | 'target-group' | 'classic-elb';
}

export const SERVE_AWS_PERMISSIONS: readonly AwsPermission[] = [
  { action: 'sqs:GetQueueUrl', resource: 'queue' },
  { action: 'sqs:GetQueueAttributes', resource: 'queue' },
  { action: 'sqs:ReceiveMessage', resource: 'queue' },
  { action: 'sqs:DeleteMessage', resource: 'queue' },
  { action: 'sqs:ChangeMessageVisibility', resource: 'queue' },
  { action: 'autoscaling:DescribeAutoScalingInstances', resource: '*' },
  { action: 'autoscaling:DescribeAutoScalingGroups', resource: '*' },
  { action: 'autoscaling:DescribeLifecycleHooks', resource: '*' },
  { action: 'autoscaling:DescribeTags', resource: '*' },
  { action: 'autoscaling:RecordLifecycleActionHeartbeat', resource: 'group' },
  { action: 'autoscaling:CompleteLifecycleAction', resource: 'group' },
  { action: 'autoscaling:DescribeTrafficSources', resource: '*', deregister: 'any' },
  { action: 'autoscaling:DescribeLoadBalancerTargetGroups', resource: '*', deregister: 'target-group' },
  { action: 'autoscaling:DescribeLoadBalancers', resource: '*', deregister: 'classic-elb' },
  { action: 'ec2:DescribeInstances', resource: '*', deregister: 'target-group' },
  { action: 'elasticloadbalancing:DescribeTargetGroups', resource: '*', deregister: 'target-group' },
  { action: 'elasticloadbalancing:DescribeTargetGroupAttributes', resource: '*', deregister: 'target-group' },
  { action: 'elasticloadbalancing:DescribeTargetHealth', resource: '*', deregister: 'target-group' },
  { action: 'elasticloadbalancing:DeregisterTargets', resource: 'target-group', deregister: 'target-group' },
  { action: 'elasticloadbalancing:DescribeLoadBalancers', resource: '*', deregister: 'classic-elb' },
  { action: 'elasticloadbalancing:DescribeInstanceHealth', resource: '*', deregister: 'classic-elb' },
  { action: 'elasticloadbalancing:DeregisterInstancesFromLoadBalancer', resource: 'classic-elb', deregister: 'classic-elb' },
];

/** The actions a `serve` configured with these deregistration settings calls. */
export function servePermissions(withDeregister: boolean, targetTypes: readonly string[]): AwsPermission[] {
  return SERVE_AWS_PERMISSIONS.filter((p) => !p.deregister || (withDeregister && (p.deregister === 'any' || targetTypes.includes(p.deregister))));
}

export interface ResourceContext {
  readonly partition: string;
  readonly region: string;
  readonly account: string;
  readonly queueArn: string | undefined;
  readonly queueName: string;
  /** Groups serve acts for (ARNs are built from their names); empty: any group. */
  readonly groupNames: readonly string[];
}

/**
 * ARNs standing for the resources serve touches, for a simulation: the queue, the enrolled groups, and any target
 * group or classic load balancer of the account (their names are unknown here). Empty means "*".
 */
export function simulationResources(resource: PermissionResource, c: ResourceContext): string[] {
  const prefix = (service: string) => `arn:${c.partition}:${service}:${c.region}:${c.account}`;
  switch (resource) {
    case 'queue': return [c.queueArn ?? `${prefix('sqs')}:${c.queueName}`];
    case 'group': return (c.groupNames.length > 0 ? c.groupNames : ['any']).map((g) => `${prefix('autoscaling')}:autoScalingGroup:00000000-0000-0000-0000-000000000000:autoScalingGroupName/${g}`);
    case 'target-group': return [`${prefix('elasticloadbalancing')}:targetgroup/any/0000000000000000`];
    case 'classic-elb': return [`${prefix('elasticloadbalancing')}:loadbalancer/any`];
    case '*': return [];
  }
}
