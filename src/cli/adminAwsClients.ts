import { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { IAMClient } from '@aws-sdk/client-iam';
import { SQSClient } from '@aws-sdk/client-sqs';
import { STSClient } from '@aws-sdk/client-sts';
import { countCalls } from '../aws/callCounting.js';
import { AwsIamRoles } from '../aws/iamRoles.js';
import { AwsLifecycleHooks } from '../aws/lifecycleHooks.js';
import { AwsPermissionSimulator } from '../aws/permissionSimulator.js';
import { AwsQueueAdmin } from '../aws/queueAdmin.js';
import type { AwsAdmin } from '../enrollment/ports.js';
import type { PermissionSimulator } from '../doctor/ports.js';
import { Metrics } from '../observability/metrics.js';

/** The SDK clients enroll, unenroll and doctor use, wrapped in their adapters. */
export interface AdminAws extends AwsAdmin {
  readonly simulator: PermissionSimulator;
  /** AWS operations issued so far (before SDK retries). */
  callCount(): Promise<number>;
  destroy(): void;
}

/**
 * Clients as serve builds them: standard retries and call counting; the region from the flag (IAM and STS are
 * global but take it too); the endpoint only through the SDK's own AWS_ENDPOINT_URL* variables.
 */
export function createAdminAws(region: string): AdminAws {
  const metrics = new Metrics({ defaultMetrics: false });
  const common = { region, retryMode: 'standard' as const, maxAttempts: 3 };
  const iam = countCalls(new IAMClient(common), 'iam', metrics);
  const sts = countCalls(new STSClient(common), 'sts', metrics);
  const sqs = countCalls(new SQSClient(common), 'sqs', metrics);
  const autoScaling = countCalls(new AutoScalingClient(common), 'autoscaling', metrics);
  return {
    iam: new AwsIamRoles(iam),
    queues: new AwsQueueAdmin(sqs),
    hooks: new AwsLifecycleHooks(autoScaling),
    simulator: new AwsPermissionSimulator(iam, sts),
    callCount: async () => (await metrics.awsCalls.get()).values.reduce((sum, v) => sum + v.value, 0),
    destroy: () => {
      for (const client of [iam, sts, sqs, autoScaling]) client.destroy();
    },
  };
}
