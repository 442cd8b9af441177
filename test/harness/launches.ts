import {
  DescribeAutoScalingGroupsCommand, PutLifecycleHookCommand, SetDesiredCapacityCommand,
} from '@aws-sdk/client-auto-scaling';
import { DescribeInstancesCommand } from '@aws-sdk/client-ec2';
import type { TestAwsClients } from './awsClients.js';
import type { FakeKubelet } from './kubelet.js';
import { REGION } from './moto.js';
import type { World, WorldInstance } from './world.js';

export const LAUNCHING = 'autoscaling:EC2_INSTANCE_LAUNCHING';
const ROLE_ARN = 'arn:aws:iam::123456789012:role/lifecycle-manager-notifications';

/** Puts a launch hook on the world's group, notifying its queue (as `enroll --launch-hook` would). */
export async function putLaunchHook(aws: TestAwsClients, world: World, options: { name?: string; heartbeatTimeoutSeconds: number; defaultResult?: 'CONTINUE' | 'ABANDON' }): Promise<string> {
  const name = options.name ?? 'lifecycle-manager-launch';
  await aws.autoScaling.send(new PutLifecycleHookCommand({
    AutoScalingGroupName: world.autoScalingGroupName, LifecycleHookName: name, LifecycleTransition: LAUNCHING,
    HeartbeatTimeout: options.heartbeatTimeoutSeconds, DefaultResult: options.defaultResult ?? 'ABANDON',
    NotificationTargetARN: world.queueArn, RoleARN: ROLE_ARN,
  }));
  return name;
}

/** The group's instances now, as the harness names their Nodes (EC2 private DNS name). */
export async function groupInstances(aws: TestAwsClients, groupName: string): Promise<Map<string, { lifecycleState: string; instance: WorldInstance }>> {
  const group = (await aws.autoScaling.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [groupName] }))).AutoScalingGroups![0]!;
  const ids = (group.Instances ?? []).map((i) => i.InstanceId!);
  if (ids.length === 0) return new Map();
  const described = (await aws.ec2.send(new DescribeInstancesCommand({ InstanceIds: ids }))).Reservations!.flatMap((r) => r.Instances ?? []);
  return new Map((group.Instances ?? []).map((g) => {
    const i = described.find((d) => d.InstanceId === g.InstanceId)!;
    return [g.InstanceId!, {
      lifecycleState: g.LifecycleState!,
      instance: { instanceId: i.InstanceId!, nodeName: i.PrivateDnsName!, privateIp: i.PrivateIpAddress!, availabilityZone: i.Placement?.AvailabilityZone ?? `${REGION}a` },
    }];
  }));
}

/** Raises the group's desired capacity by `count`; returns the instances launched (in Pending:Wait with a launch hook). */
export async function scaleOut(aws: TestAwsClients, world: World, count = 1): Promise<WorldInstance[]> {
  const before = await groupInstances(aws, world.autoScalingGroupName);
  await aws.autoScaling.send(new SetDesiredCapacityCommand({ AutoScalingGroupName: world.autoScalingGroupName, DesiredCapacity: before.size + count, HonorCooldown: false }));
  const after = await groupInstances(aws, world.autoScalingGroupName);
  return [...after.values()].filter(({ instance }) => !before.has(instance.instanceId)).map(({ instance }) => instance);
}

/**
 * The new instance's kubelet joining the cluster: its Node, Ready or not (`'False'`, e.g. a CNI that never comes
 * up); a test that wants a Node that never registers simply does not call this.
 */
export async function joinNode(kubelet: FakeKubelet, instance: WorldInstance, ready: 'True' | 'False' = 'True'): Promise<void> {
  await kubelet.addNode({ name: instance.nodeName, instanceId: instance.instanceId, availabilityZone: instance.availabilityZone, privateIp: instance.privateIp, ready });
}
