import { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { EC2Client } from '@aws-sdk/client-ec2';
import { ElasticLoadBalancingClient } from '@aws-sdk/client-elastic-load-balancing';
import { ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import { SQSClient } from '@aws-sdk/client-sqs';
import { REGION } from './moto.js';

/** SDK clients the tests use to build and inspect the emulated AWS world (never the service's own). */
export interface TestAwsClients {
  readonly sqs: SQSClient;
  readonly autoScaling: AutoScalingClient;
  readonly ec2: EC2Client;
  readonly elbv2: ElasticLoadBalancingV2Client;
  readonly elb: ElasticLoadBalancingClient;
}

export function testAwsClients(endpoint: string): TestAwsClients {
  const config = { endpoint, region: REGION, credentials: { accessKeyId: 'test', secretAccessKey: 'test' }, maxAttempts: 5 };
  return {
    sqs: new SQSClient(config),
    autoScaling: new AutoScalingClient(config),
    ec2: new EC2Client(config),
    elbv2: new ElasticLoadBalancingV2Client(config),
    elb: new ElasticLoadBalancingClient(config),
  };
}
