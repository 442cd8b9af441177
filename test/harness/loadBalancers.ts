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
  /** A target group in the test VPC with the given deregistration delay; deleted by cleanup(). */
  targetGroup(name: string, options?: { port?: number; targetType?: 'instance' | 'ip'; deregistrationDelaySeconds?: number }): Promise<string>;
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
 * The test VPC (with one subnet) that target groups live in, created once per test worker. Instances launched by
 * the emulated Auto Scaling group are not checked against it.
 */
export function testVpc(aws: TestAwsClients): Promise<string> {
  vpc ??= (async () => {
    const existing = await aws.ec2.send(new DescribeVpcsCommand({ Filters: [{ Name: 'tag:lifecycle-manager-test', Values: ['true'] }] }));
    const found = existing.Vpcs?.[0]?.VpcId;
    if (found) return found;
    const created = (await aws.ec2.send(new CreateVpcCommand({
      CidrBlock: '10.250.0.0/16', TagSpecifications: [{ ResourceType: 'vpc', Tags: [{ Key: 'lifecycle-manager-test', Value: 'true' }] }],
    }))).Vpc!.VpcId!;
    await aws.ec2.send(new CreateSubnetCommand({ VpcId: created, CidrBlock: '10.250.0.0/20', AvailabilityZone: `${REGION}a` }));
    return created;
  })();
  return vpc;
}

export function loadBalancerFixtures(aws: TestAwsClients): LoadBalancerFixtures {
  const groups = new Set<string>();
  const classics = new Set<string>();
  return {
    async targetGroup(name, options = {}) {
      const out = await aws.elbv2.send(new CreateTargetGroupCommand({
        Name: name, Protocol: 'HTTP', Port: options.port ?? 80, VpcId: await testVpc(aws), TargetType: options.targetType ?? 'instance',
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
