import { randomBytes } from 'node:crypto';
import { CreateAutoScalingGroupCommand } from '@aws-sdk/client-auto-scaling';
import { CreateLaunchTemplateCommand } from '@aws-sdk/client-ec2';
import type { TestAwsClients } from './awsClients.js';
import { REGION } from './moto.js';

/**
 * Creates empty Auto Scaling groups (no instances) named `<prefix>-<n>` in moto, sharing one launch template —
 * enough for commands that only put and read lifecycle hooks.
 */
export async function createEmptyGroups(aws: Pick<TestAwsClients, 'autoScaling' | 'ec2'>, count: number, prefix = `asg-${randomBytes(4).toString('hex')}`): Promise<string[]> {
  const launchTemplateName = `lt-${prefix}`;
  await aws.ec2.send(new CreateLaunchTemplateCommand({ LaunchTemplateName: launchTemplateName, LaunchTemplateData: { ImageId: 'ami-12c6146b', InstanceType: 't3.micro' } }));
  const names = Array.from({ length: count }, (_, i) => `${prefix}-${i + 1}`);
  for (const name of names) {
    await aws.autoScaling.send(new CreateAutoScalingGroupCommand({
      AutoScalingGroupName: name, MinSize: 0, MaxSize: 2, DesiredCapacity: 0,
      LaunchTemplate: { LaunchTemplateName: launchTemplateName }, AvailabilityZones: [`${REGION}a`],
    }));
  }
  return names;
}
