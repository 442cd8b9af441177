import { randomBytes } from 'node:crypto';
import {
  CreateAutoScalingGroupCommand,
  DescribeAutoScalingGroupsCommand,
  DescribeAutoScalingInstancesCommand,
  PutLifecycleHookCommand,
  TerminateInstanceInAutoScalingGroupCommand,
} from '@aws-sdk/client-auto-scaling';
import { CreateLaunchTemplateCommand, DescribeInstancesCommand } from '@aws-sdk/client-ec2';
import { CreateQueueCommand, GetQueueAttributesCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import * as k8s from '@kubernetes/client-node';
import type { TestAwsClients } from './awsClients.js';
import type { FakeKubelet } from './kubelet.js';
import { REGION } from './moto.js';

export interface WorldInstance {
  readonly instanceId: string;
  readonly nodeName: string;
  readonly privateIp: string;
  readonly availabilityZone: string;
}

export interface WorldOptions {
  readonly instances: number;
  readonly heartbeatTimeoutSeconds: number;
  readonly defaultResult?: 'CONTINUE' | 'ABANDON';
  readonly podsPerNode?: number;
  /** Queue attributes, e.g. a RedrivePolicy. */
  readonly queueAttributes?: Record<string, string>;
  readonly targetGroupArns?: readonly string[];
  readonly loadBalancerNames?: readonly string[];
}

export interface World {
  readonly id: string;
  readonly queueName: string;
  readonly queueUrl: string;
  readonly queueArn: string;
  readonly autoScalingGroupName: string;
  readonly lifecycleHookName: string;
  readonly namespace: string;
  readonly instances: readonly WorldInstance[];
  /** TerminateInstanceInAutoScalingGroup, as an operator or the ASG itself would. */
  terminate(instanceId: string): Promise<void>;
  lifecycleState(instanceId: string): Promise<string | undefined>;
  sendRaw(body: string): Promise<void>;
  podsOn(nodeName: string): Promise<k8s.V1Pod[]>;
  nodeExists(nodeName: string): Promise<boolean>;
  nodeEvents(nodeName: string): Promise<k8s.CoreV1Event[]>;
}

const ROLE_ARN = `arn:aws:iam::123456789012:role/lifecycle-manager-notifications`;
let launchTemplate: Promise<string> | undefined;

/**
 * A sandbox: an SQS queue, an Auto Scaling group of `instances` with a termination hook to it, a Node per instance
 * (named after the EC2 private DNS name, providerID aws:///<az>/<id>) and `podsPerNode` pods on each.
 */
export async function buildWorld(aws: TestAwsClients, kubelet: FakeKubelet, options: WorldOptions): Promise<World> {
  const id = randomBytes(4).toString('hex');
  const queueName = `lm-${id}`;
  const queueUrl = (await aws.sqs.send(new CreateQueueCommand({ QueueName: queueName, Attributes: options.queueAttributes }))).QueueUrl!;
  const queueArn = (await aws.sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }))).Attributes!['QueueArn']!;
  // Made once per worker; worlds built concurrently wait for the same one.
  launchTemplate ??= aws.ec2.send(new CreateLaunchTemplateCommand({ LaunchTemplateName: `lt-${id}`, LaunchTemplateData: { ImageId: 'ami-12c6146b', InstanceType: 't3.micro' } }))
    .then(() => `lt-${id}`);
  const template = await launchTemplate;
  const autoScalingGroupName = `asg-${id}`;
  await aws.autoScaling.send(new CreateAutoScalingGroupCommand({
    AutoScalingGroupName: autoScalingGroupName, MinSize: 0, MaxSize: options.instances + 5, DesiredCapacity: options.instances,
    LaunchTemplate: { LaunchTemplateName: template }, AvailabilityZones: [`${REGION}a`],
    ...(options.targetGroupArns ? { TargetGroupARNs: [...options.targetGroupArns] } : {}),
    ...(options.loadBalancerNames ? { LoadBalancerNames: [...options.loadBalancerNames] } : {}),
  }));
  const lifecycleHookName = 'lifecycle-manager';
  await aws.autoScaling.send(new PutLifecycleHookCommand({
    AutoScalingGroupName: autoScalingGroupName, LifecycleHookName: lifecycleHookName,
    LifecycleTransition: 'autoscaling:EC2_INSTANCE_TERMINATING', HeartbeatTimeout: options.heartbeatTimeoutSeconds,
    DefaultResult: options.defaultResult ?? 'ABANDON', NotificationTargetARN: queueArn, RoleARN: ROLE_ARN,
  }));
  const group = (await aws.autoScaling.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [autoScalingGroupName] }))).AutoScalingGroups![0]!;
  const ids = (group.Instances ?? []).map((i) => i.InstanceId!);
  const described = (await aws.ec2.send(new DescribeInstancesCommand({ InstanceIds: ids }))).Reservations!.flatMap((r) => r.Instances ?? []);
  const namespace = `ns-${id}`;
  await kubelet.core.createNamespace({ body: { metadata: { name: namespace } } });
  const instances: WorldInstance[] = [];
  for (const i of described) {
    const instance = { instanceId: i.InstanceId!, nodeName: i.PrivateDnsName!, privateIp: i.PrivateIpAddress!, availabilityZone: i.Placement?.AvailabilityZone ?? `${REGION}a` };
    await kubelet.addNode({ name: instance.nodeName, instanceId: instance.instanceId, availabilityZone: instance.availabilityZone, privateIp: instance.privateIp });
    for (let p = 0; p < (options.podsPerNode ?? 0); p++) {
      await kubelet.createPod(namespace, { name: `${instance.instanceId}-pod-${p}`, nodeName: instance.nodeName, labels: { app: `app-${p}` }, ownerKind: 'ReplicaSet' });
    }
    instances.push(instance);
  }
  const core = kubelet.core;
  return {
    id, queueName, queueUrl, queueArn, autoScalingGroupName, lifecycleHookName, namespace, instances,
    terminate: async (instanceId) => {
      await aws.autoScaling.send(new TerminateInstanceInAutoScalingGroupCommand({ InstanceId: instanceId, ShouldDecrementDesiredCapacity: true }));
    },
    lifecycleState: async (instanceId) => {
      const out = await aws.autoScaling.send(new DescribeAutoScalingInstancesCommand({ InstanceIds: [instanceId] }));
      return out.AutoScalingInstances?.[0]?.LifecycleState;
    },
    sendRaw: async (body) => {
      await aws.sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: body }));
    },
    podsOn: async (nodeName) => (await core.listPodForAllNamespaces({ fieldSelector: `spec.nodeName=${nodeName}` })).items,
    nodeExists: async (nodeName) => core.readNode({ name: nodeName }).then(() => true, (e: { code?: number }) => {
      if (e.code === 404) return false;
      throw e;
    }),
    nodeEvents: async (nodeName) => (await core.listNamespacedEvent({ namespace: 'default', fieldSelector: `involvedObject.name=${nodeName}` })).items,
  };
}
