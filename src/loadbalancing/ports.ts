/**
 * The load-balancing module's own ports: what it needs from Elastic Load Balancing (v2 target groups, classic load
 * balancers) and from Auto Scaling (the group's traffic sources). Adapters in src/aws implement them with the SDK;
 * unit tests implement them in memory. A target group or load balancer that no longer exists surfaces as
 * ResourceGoneError, throttling as TransientError; expected outcomes are values.
 */

/** One registration in a target group: the same instance on two ports is two targets. */
export interface TargetRef {
  /** Instance id for `instance` target groups, an IP address for `ip` target groups. */
  readonly id: string;
  readonly port: number;
}

export interface TargetHealth extends TargetRef {
  /** initial | healthy | unhealthy | unhealthy.draining | unused | draining | unavailable */
  readonly state: string;
  readonly reason: string | undefined;
}

export interface TargetGroupSummary {
  readonly arn: string;
  readonly name: string;
  /** instance | ip | lambda | alb */
  readonly targetType: string;
  readonly vpcId: string | undefined;
}

export interface ClassicLoadBalancerSummary {
  readonly name: string;
  readonly instanceIds: readonly string[];
}

export interface InstanceHealth {
  readonly instanceId: string;
  /** InService | OutOfService | Unknown */
  readonly state: string;
}

export interface TrafficSources {
  readonly targetGroupArns: readonly string[];
  readonly loadBalancerNames: readonly string[];
}

export interface TargetGroupsPort {
  /** Every target group in the region (all pages). */
  listTargetGroups(signal: AbortSignal): Promise<TargetGroupSummary[]>;
  /** One target group by ARN or by name; undefined when it does not exist. */
  describeTargetGroup(ref: { readonly arn: string } | { readonly name: string }, signal: AbortSignal): Promise<TargetGroupSummary | undefined>;
  /** Unfiltered: every registered or draining target. Filtered: exactly the targets asked about. */
  describeTargetHealth(arn: string, targets: readonly TargetRef[] | undefined, signal: AbortSignal): Promise<TargetHealth[]>;
  /** 'invalid-target' when at least one of the targets is not registered (AWS's InvalidTarget). */
  deregisterTargets(arn: string, targets: readonly TargetRef[], signal: AbortSignal): Promise<'deregistered' | 'invalid-target'>;
  /** The group's `deregistration_delay.timeout_seconds`. */
  deregistrationDelaySeconds(arn: string, signal: AbortSignal): Promise<number>;
}

export interface ClassicLoadBalancersPort {
  /** Every classic load balancer in the region with its registered instances (all pages). */
  listLoadBalancers(signal: AbortSignal): Promise<ClassicLoadBalancerSummary[]>;
  /** Unfiltered: every registered instance and its state. */
  describeInstanceHealth(name: string, signal: AbortSignal): Promise<InstanceHealth[]>;
  /** 'invalid-instance' when at least one instance is not registered (AWS's InvalidInstance). */
  deregisterInstances(name: string, instanceIds: readonly string[], signal: AbortSignal): Promise<'deregistered' | 'invalid-instance'>;
}

/**
 * A target group a TargetGroupBinding of this cluster names (elbv2.k8s.aws/v1beta1, made by the AWS Load Balancer
 * Controller for each Service and Ingress it manages, or by hand): its targets are the cluster's nodes or pods.
 */
export interface BoundTargetGroup {
  /** `namespace/name` of the binding, for logs. */
  readonly binding: string;
  /** spec.targetGroupARN; undefined when the binding names its group by spec.targetGroupName. */
  readonly arn: string | undefined;
  readonly name: string | undefined;
  /** spec.targetType (instance | ip); undefined until the controller's webhook has set it. */
  readonly targetType: string | undefined;
  /** spec.vpcID; undefined until the controller's webhook has set it. */
  readonly vpcId: string | undefined;
}

export interface TargetGroupBindingsPort {
  /** The bindings as last seen (a watch): empty while the CRD is not installed or the bindings cannot be read. */
  current(): readonly BoundTargetGroup[];
}

export interface TrafficSourcesPort {
  /** The target groups and classic load balancers attached to the group; empty when the group does not exist. */
  describeTrafficSources(autoScalingGroupName: string, signal: AbortSignal): Promise<TrafficSources>;
}

/** `arn:aws:elasticloadbalancing:…:targetgroup/<name>/<id>` → `<name>`; the ARN itself when it has another shape. */
export function targetGroupName(arn: string): string {
  return /:targetgroup\/([^/]+)\//u.exec(arn)?.[1] ?? arn;
}

export function targetKey(t: TargetRef): string {
  return `${t.id}:${t.port}`;
}
