import { CreateSubnetCommand, CreateVpcCommand, DescribeVpcsCommand } from '@aws-sdk/client-ec2';
import {
  CreateLoadBalancerCommand as CreateClassicLoadBalancerCommand,
  DeleteLoadBalancerCommand as DeleteClassicLoadBalancerCommand,
  DescribeInstanceHealthCommand,
  RegisterInstancesWithLoadBalancerCommand,
} from '@aws-sdk/client-elastic-load-balancing';
import {
  CreateTargetGroupCommand,
  DeleteTargetGroupCommand,
  DescribeTargetGroupsCommand,
  DescribeTargetHealthCommand,
  ModifyTargetGroupAttributesCommand,
  RegisterTargetsCommand,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import type { TestAwsClients } from './awsClients.js';
import { REGION } from './moto.js';

export interface Target {
  readonly id: string;
  readonly port: number;
}

export interface TargetState extends Target {
  readonly state: string;
}

export interface LoadBalancerFixtures {
  /** A target group (in the default VPC unless `vpcId` says otherwise) with the given deregistration delay; deleted by cleanup(). */
  targetGroup(name: string, options?: { port?: number; targetType?: 'instance' | 'ip'; deregistrationDelaySeconds?: number; vpcId?: string }): Promise<string>;
  /** Registers targets by hand, as the AWS Load Balancer Controller or an operator would. */
  register(arn: string, targets: readonly Target[]): Promise<void>;
  /** Filtered: exactly these targets. Unfiltered: every registered or draining target. */
  health(arn: string, targets?: readonly Target[]): Promise<TargetState[]>;
  deleteTargetGroup(arn: string): Promise<void>;
  /** A classic load balancer; deleted by cleanup(). */
  classic(name: string): Promise<string>;
  registerClassic(name: string, instanceIds: readonly string[]): Promise<void>;
  /** Instances the classic load balancer lists, with their state. */
  classicInstances(name: string): Promise<Array<{ instanceId: string; state: string }>>;
  /** Every target group in the region (what a region scan sees). */
  targetGroupCount(): Promise<number>;
  /** Deletes what this fixture created that still exists, so later scans see a clean region. */
  cleanup(): Promise<void>;
}

let vpc: Promise<string> | undefined;

/**
 * The VPC target groups live in by default: the region's default VPC, where the emulated Auto Scaling groups launch
 * their instances (as on AWS, a target group only ever holds targets of its own VPC).
 */
export function testVpc(aws: TestAwsClients): Promise<string> {
  vpc ??= (async () => {
    const found = (await aws.ec2.send(new DescribeVpcsCommand({ Filters: [{ Name: 'is-default', Values: ['true'] }] }))).Vpcs?.[0]?.VpcId;
    if (!found) throw new Error('the emulator has no default VPC');
    return found;
  })();
  return vpc;
}

/** Another VPC, as another cluster in the same region would have (address ranges may overlap the default VPC's). */
export async function otherVpc(aws: TestAwsClients, cidr = '10.0.0.0/16'): Promise<string> {
  const vpcId = (await aws.ec2.send(new CreateVpcCommand({ CidrBlock: cidr }))).Vpc!.VpcId!;
  await aws.ec2.send(new CreateSubnetCommand({ VpcId: vpcId, CidrBlock: cidr.replace(/\/16$/u, '/20'), AvailabilityZone: `${REGION}a` }));
  return vpcId;
}

export function loadBalancerFixtures(aws: TestAwsClients): LoadBalancerFixtures {
  const groups = new Set<string>();
  const classics = new Set<string>();
  return {
    async targetGroup(name, options = {}) {
      const out = await aws.elbv2.send(new CreateTargetGroupCommand({
        Name: name, Protocol: 'HTTP', Port: options.port ?? 80, VpcId: options.vpcId ?? await testVpc(aws), TargetType: options.targetType ?? 'instance',
      }));
      const arn = out.TargetGroups![0]!.TargetGroupArn!;
      groups.add(arn);
      if (options.deregistrationDelaySeconds !== undefined) {
        await aws.elbv2.send(new ModifyTargetGroupAttributesCommand({
          TargetGroupArn: arn, Attributes: [{ Key: 'deregistration_delay.timeout_seconds', Value: String(options.deregistrationDelaySeconds) }],
        }));
      }
      return arn;
    },
    async register(arn, targets) {
      await aws.elbv2.send(new RegisterTargetsCommand({ TargetGroupArn: arn, Targets: targets.map((t) => ({ Id: t.id, Port: t.port })) }));
    },
    async health(arn, targets) {
      const out = await aws.elbv2.send(new DescribeTargetHealthCommand({ TargetGroupArn: arn, ...(targets ? { Targets: targets.map((t) => ({ Id: t.id, Port: t.port })) } : {}) }));
      return (out.TargetHealthDescriptions ?? []).map((d) => ({ id: d.Target!.Id!, port: d.Target!.Port!, state: d.TargetHealth!.State! }));
    },
    async deleteTargetGroup(arn) {
      await aws.elbv2.send(new DeleteTargetGroupCommand({ TargetGroupArn: arn }));
      groups.delete(arn);
    },
    async classic(name) {
      await aws.elb.send(new CreateClassicLoadBalancerCommand({
        LoadBalancerName: name, AvailabilityZones: [`${REGION}a`], Listeners: [{ Protocol: 'HTTP', LoadBalancerPort: 80, InstancePort: 8080 }],
      }));
      classics.add(name);
      return name;
    },
    async registerClassic(name, instanceIds) {
      await aws.elb.send(new RegisterInstancesWithLoadBalancerCommand({ LoadBalancerName: name, Instances: instanceIds.map((id) => ({ InstanceId: id })) }));
    },
    async classicInstances(name) {
      const out = await aws.elb.send(new DescribeInstanceHealthCommand({ LoadBalancerName: name }));
      return (out.InstanceStates ?? []).map((s) => ({ instanceId: s.InstanceId!, state: s.State! }));
    },
    async targetGroupCount() {
      let count = 0;
      let marker: string | undefined;
      do {
        const out = await aws.elbv2.send(new DescribeTargetGroupsCommand({ ...(marker ? { Marker: marker } : {}) }));
        count += out.TargetGroups?.length ?? 0;
        marker = out.NextMarker;
      } while (marker);
      return count;
    },
    async cleanup() {
      for (const arn of groups) await aws.elbv2.send(new DeleteTargetGroupCommand({ TargetGroupArn: arn })).catch(() => undefined);
      for (const name of classics) await aws.elb.send(new DeleteClassicLoadBalancerCommand({ LoadBalancerName: name })).catch(() => undefined);
      groups.clear();
      classics.clear();
    },
  };
}
