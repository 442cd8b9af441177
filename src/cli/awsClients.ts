import { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { ElasticLoadBalancingClient } from '@aws-sdk/client-elastic-load-balancing';
import { ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import type { EC2Client } from '@aws-sdk/client-ec2';
import { SQSClient } from '@aws-sdk/client-sqs';
import { fromIni } from '@aws-sdk/credential-providers';
import { countCalls } from '../aws/callCounting.js';
import type { Metrics } from '../observability/metrics.js';

export interface AwsClients {
  readonly sqs: SQSClient;
  readonly autoScaling: AutoScalingClient;
  /** Heartbeats only: a connection pool of their own, so no queue of other Auto Scaling calls delays them. */
  readonly heartbeats: AutoScalingClient;
  readonly elbv2: ElasticLoadBalancingV2Client;
  readonly elb: ElasticLoadBalancingClient;
  /** Made on first use (the EC2 SDK is large): only ip target groups need the instance's VPC. */
  ec2(): Promise<EC2Client>;
  destroy(): void;
}

export interface AwsClientOptions {
  readonly region: string;
  readonly refreshExpiredCredentials: boolean;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Bound on one request (--api-timeout); an unanswered request is retried like a 5xx. */
  readonly requestTimeoutMs?: number;
}

const CREDENTIALS_REREAD_MS = 5 * 60_000;
/**
 * Connections each client keeps to its endpoint (the SDK's default is 50). Every open TLS connection holds tens of
 * KiB of buffers: in a burst of 500 terminations the clients held ~180 connections. 16 calls in flight per client
 * (heartbeats have one of their own) is hundreds of calls a second at AWS's latencies, more than the APIs' rate
 * limits give one caller; a call beyond them waits for a connection.
 */
const MAX_SOCKETS_PER_CLIENT = 16;
/**
 * The heartbeats' client keeps the SDK's default: when hundreds of hooks are due at once (a burst), a heartbeat
 * waiting for one of 16 connections behind the others came 16 s late on a loaded endpoint (HeartbeatTimeout 30 s).
 */
const MAX_HEARTBEAT_SOCKETS = 50;

/**
 * SDK v3 clients with the standard retry mode and call counting. Not 'adaptive': its client-side rate limiter
 * slows every call of a client after throttling, so throttled Describe* calls could starve the heartbeats that keep
 * hooks alive (seen on the fault-injection test: hooks expired). Throttling is paced per call site instead
 * (heartbeat and completion retries, the load balancers' token buckets). The
 * endpoint is never set here: the SDK's standard AWS_ENDPOINT_URL* variables are the only override.
 */
export function createAwsClients(options: AwsClientOptions, metrics: Metrics): AwsClients {
  const agent = { keepAlive: true, maxSockets: MAX_SOCKETS_PER_CLIENT };
  const heartbeatAgent = { keepAlive: true, maxSockets: MAX_HEARTBEAT_SOCKETS };
  const common = {
    region: options.region,
    retryMode: 'standard' as const,
    maxAttempts: 3,
    requestHandler: {
      httpAgent: agent, httpsAgent: agent,
      ...(options.requestTimeoutMs ? { requestTimeout: options.requestTimeoutMs, connectionTimeout: Math.min(10_000, options.requestTimeoutMs), throwOnRequestTimeout: true } : {}),
    },
    ...(options.refreshExpiredCredentials ? { credentials: rereadingSharedCredentials(options.env) } : {}),
  };
  let ec2: Promise<EC2Client> | undefined;
  const clients = {
    sqs: countCalls(new SQSClient(common), 'sqs', metrics),
    autoScaling: countCalls(new AutoScalingClient(common), 'autoscaling', metrics),
    heartbeats: countCalls(new AutoScalingClient({ ...common, requestHandler: { ...common.requestHandler, httpAgent: heartbeatAgent, httpsAgent: heartbeatAgent } }), 'autoscaling', metrics),
    elbv2: countCalls(new ElasticLoadBalancingV2Client(common), 'elasticloadbalancingv2', metrics),
    elb: countCalls(new ElasticLoadBalancingClient(common), 'elasticloadbalancing', metrics),
  };
  return {
    ...clients,
    ec2: () => {
      ec2 ??= import('@aws-sdk/client-ec2').then(({ EC2Client: Client }) => countCalls(new Client(common), 'ec2', metrics));
      return ec2;
    },
    destroy: () => {
      for (const client of Object.values(clients)) client.destroy();
      void ec2?.then((c) => c.destroy(), () => undefined);
    },
  };
}

/**
 * Upstream's --refresh-expired-credentials: credentials come from the shared credentials file and are re-read
 * periodically, so a file rotated by an external process is picked up without a restart.
 */
function rereadingSharedCredentials(env: Readonly<Record<string, string | undefined>>) {
  const provider = fromIni({
    profile: env['AWS_PROFILE'] ?? 'default',
    ...(env['AWS_SHARED_CREDENTIALS_FILE'] ? { filepath: env['AWS_SHARED_CREDENTIALS_FILE'] } : {}),
    ignoreCache: true,
  });
  return async () => ({ ...(await provider()), expiration: new Date(Date.now() + CREDENTIALS_REREAD_MS) });
}
