// Types only: the module itself is loaded on first use (see AwsInstances).
import type { EC2Client } from '@aws-sdk/client-ec2';
import type { InstanceFacts, InstancesPort } from '../lifecycle/ports.js';
import { awsErrorName, toDomainError } from './errors.js';
import { KeyedBatcher } from './keyedBatcher.js';

type Ec2 = Pick<EC2Client, 'send'>;

const IDS_PER_CALL = 100;

/**
 * The instance's VPC from EC2 DescribeInstances, asked only when an ip target group holds one of the instance's
 * addresses. Lookups arriving within a short window are merged (up to 100 instance ids per call). The EC2 client is
 * made on first use: the EC2 SDK costs about 80 MiB of memory, which a cluster without ip targets never pays.
 */
export class AwsInstances implements InstancesPort {
  private client: Promise<Ec2> | undefined;
  private readonly batcher: KeyedBatcher<string, InstanceFacts>;

  constructor(private readonly makeClient: () => Promise<Ec2>, batchWindowMs = 200) {
    this.batcher = new KeyedBatcher(IDS_PER_CALL, batchWindowMs, (ids, signal) => this.describe(ids, signal));
  }

  describeInstance(instanceId: string, signal: AbortSignal): Promise<InstanceFacts | undefined> {
    return this.batcher.get(instanceId, signal);
  }

  private async describe(instanceIds: readonly string[], signal: AbortSignal): Promise<Map<string, InstanceFacts>> {
    this.client ??= this.makeClient();
    const client = await this.client;
    const { DescribeInstancesCommand } = await import('@aws-sdk/client-ec2');
    const found = new Map<string, InstanceFacts>();
    try {
      let token: string | undefined;
      do {
        // A filter, not InstanceIds: an id EC2 no longer knows must not fail the whole batch.
        const out = await client.send(new DescribeInstancesCommand({ Filters: [{ Name: 'instance-id', Values: [...instanceIds] }], NextToken: token }), { abortSignal: signal });
        for (const i of (out.Reservations ?? []).flatMap((r) => r.Instances ?? [])) {
          if (i.InstanceId) found.set(i.InstanceId, { instanceId: i.InstanceId, vpcId: i.VpcId || undefined });
        }
        token = out.NextToken;
      } while (token);
      return found;
    } catch (e) {
      if (awsErrorName(e) === 'InvalidInstanceID.NotFound') return found;
      throw toDomainError(e, 'ec2:DescribeInstances');
    }
  }
}
