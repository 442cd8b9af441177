import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { AutoScalingClient, CompleteLifecycleActionCommand, DescribeAutoScalingInstancesCommand } from '@aws-sdk/client-auto-scaling';
import { DescribeLoadBalancersCommand, ElasticLoadBalancingClient } from '@aws-sdk/client-elastic-load-balancing';
import { DescribeTargetGroupsCommand, ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import { CreateQueueCommand, DeleteQueueCommand, GetQueueAttributesCommand, GetQueueUrlCommand, ListQueuesCommand, SQSClient } from '@aws-sdk/client-sqs';
import * as k8s from '@kubernetes/client-node';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { withSignal } from '../../src/kube/apiClients.js';
import { type FaultProxy, startFaultProxy } from '../harness/faultProxy.js';
import { adminKubeConfig, eventually } from '../harness/infra.js';
import { type KubeFaultProxy, startKubeFaultProxy } from '../harness/kubeFaultProxy.js';
import { REGION } from '../harness/moto.js';
import { SERVICE_USER } from '../harness/rbac.js';

/**
 * The fault injection tools themselves (test/harness/faultProxy.ts for AWS, kubeFaultProxy.ts for the apiserver):
 * each fault must reach the real AWS SDK v3 clients and @kubernetes/client-node as the error the real service sends.
 */
const info = inject('harness');
const id = randomBytes(4).toString('hex');

/** What an SDK or client-node call failed with (undefined fields when it did not get that far). */
async function failure(call: Promise<unknown>): Promise<{ name: string; status?: number; fault?: string; message: string; attempts?: number }> {
  const e = await call.then(() => { throw new Error('the call succeeded'); }, (err: unknown) => err) as Error & {
    $metadata?: { httpStatusCode?: number; attempts?: number }; $fault?: string;
  };
  return { name: e.name, status: e.$metadata?.httpStatusCode, fault: e.$fault, message: e.message, attempts: e.$metadata?.attempts };
}

describe('AWS fault proxy, seen by the AWS SDK v3', () => {
  let proxy: FaultProxy;
  const clients = (maxAttempts: number) => {
    const config = { endpoint: proxy.endpoint, region: REGION, credentials: { accessKeyId: 'test', secretAccessKey: 'test' }, maxAttempts };
    return { sqs: new SQSClient(config), autoScaling: new AutoScalingClient(config), elbv2: new ElasticLoadBalancingV2Client(config), elb: new ElasticLoadBalancingClient(config) };
  };
  beforeAll(async () => { proxy = await startFaultProxy(info.motoEndpoint); });
  afterEach(() => proxy.setRules([]));
  afterAll(() => proxy?.close());

  it('answers AccessDenied (403, not retried) in XML to the query-protocol services and in JSON with x-amzn-query-error to SQS', async () => {
    proxy.setRules([{ fault: 'access-denied' }]);
    const aws = clients(3);
    const denied = (action: string) => ({ name: 'AccessDenied', status: 403, fault: 'client', attempts: 1,
      message: `User: arn:aws:sts::123456789012:assumed-role/test is not authorized to perform: ${action} because no identity-based policy allows the ${action} action` });
    expect(await failure(aws.autoScaling.send(new DescribeAutoScalingInstancesCommand({ InstanceIds: ['i-0000000000000000a'] })))).toEqual(denied('autoscaling:DescribeAutoScalingInstances'));
    expect(await failure(aws.elbv2.send(new DescribeTargetGroupsCommand({})))).toEqual(denied('elasticloadbalancing:DescribeTargetGroups'));
    expect(await failure(aws.elb.send(new DescribeLoadBalancersCommand({})))).toEqual(denied('elasticloadbalancing:DescribeLoadBalancers'));
    expect(await failure(aws.sqs.send(new GetQueueUrlCommand({ QueueName: `fi-${id}` })))).toEqual(denied('sqs:getqueueurl'));
    expect(proxy.requests.map((r) => `${r.service}:${r.operation}:${r.fault}:${r.status}`)).toEqual([
      'autoscaling:DescribeAutoScalingInstances:access-denied:403', 'elasticloadbalancing:DescribeTargetGroups:access-denied:403',
      'elasticloadbalancing:DescribeLoadBalancers:access-denied:403', 'sqs:GetQueueUrl:access-denied:403',
    ]);
  });

  it('answers ValidationError (400) with the rule\'s message, Throttling and 503; the SDK retries those two, and `times`/`every` pick the requests', async () => {
    const aws = clients(1);
    proxy.setRules([{ service: 'autoscaling', operation: 'CompleteLifecycleAction', fault: 'validation', message: 'Lifecycle hook lifecycle-manager is misconfigured' }]);
    expect(await failure(aws.autoScaling.send(new CompleteLifecycleActionCommand({ AutoScalingGroupName: 'g', LifecycleHookName: 'h', LifecycleActionResult: 'CONTINUE', InstanceId: 'i-0000000000000000a' }))))
      .toMatchObject({ name: 'ValidationError', status: 400, fault: 'client', message: 'Lifecycle hook lifecycle-manager is misconfigured' });
    proxy.setRules([{ service: 'sqs', fault: 'validation' }]);
    expect(await failure(aws.sqs.send(new ListQueuesCommand({})))).toMatchObject({ name: 'ValidationError', status: 400, fault: 'client' });

    proxy.setRules([{ service: 'autoscaling', fault: 'throttle' }, { service: 'sqs', fault: 'throttle' }]);
    expect(await failure(aws.autoScaling.send(new DescribeAutoScalingInstancesCommand({})))).toMatchObject({ name: 'Throttling', status: 400, fault: 'client', message: 'Rate exceeded' });
    expect(await failure(aws.sqs.send(new ListQueuesCommand({})))).toMatchObject({ name: 'ThrottlingException', status: 400, fault: 'client', message: 'Rate exceeded' });
    proxy.setRules([{ fault: 'server-error' }]);
    expect(await failure(aws.autoScaling.send(new DescribeAutoScalingInstancesCommand({})))).toMatchObject({ name: 'ServiceUnavailable', status: 503, fault: 'server' });
    // The SDK's retry strategy takes both for transient: once each, then the request passes.
    proxy.setRules([{ service: 'autoscaling', fault: 'throttle', times: 1 }, { service: 'sqs', fault: 'throttle', times: 1 }]);
    expect((await clients(2).autoScaling.send(new DescribeAutoScalingInstancesCommand({}))).$metadata.attempts).toBe(2);
    expect((await clients(2).sqs.send(new ListQueuesCommand({}))).$metadata.attempts).toBe(2);

    // The first two fail, then requests pass: an SDK with three attempts succeeds on its third.
    proxy.setRules([{ service: 'autoscaling', operation: 'DescribeAutoScalingInstances', fault: 'server-error', times: 2 }]);
    const before = proxy.requests.length;
    const out = await clients(3).autoScaling.send(new DescribeAutoScalingInstancesCommand({ InstanceIds: ['i-0000000000000000a'] }));
    expect(out.$metadata.attempts).toBe(3);
    expect(proxy.requests.slice(before).map((r) => r.fault ?? r.status)).toEqual(['server-error', 'server-error', 200]);
    // every: 2 with times: 1 faults the second matching request only.
    proxy.setRules([{ service: 'sqs', operation: 'ListQueues', fault: 'server-error', every: 2, times: 1 }]);
    const results = [];
    for (let n = 0; n < 4; n++) results.push(await aws.sqs.send(new ListQueuesCommand({})).then(() => 'ok', (e: Error) => e.name));
    expect(results).toEqual(['ok', 'ServiceUnavailable', 'ok', 'ok']);
  });

  it('faults only requests whose body names one resource (bodyIncludes), URL-decoded for the query protocol', async () => {
    const aws = clients(1);
    const queues: string[] = [];
    for (const suffix of ['a', 'b']) queues.push((await aws.sqs.send(new CreateQueueCommand({ QueueName: `fi-${id}-${suffix}` }))).QueueUrl!);
    try {
      proxy.setRules([{ service: 'sqs', bodyIncludes: `fi-${id}-a`, fault: 'access-denied' }]);
      expect(await failure(aws.sqs.send(new GetQueueAttributesCommand({ QueueUrl: queues[0]!, AttributeNames: ['QueueArn'] })))).toMatchObject({ name: 'AccessDenied' });
      expect((await aws.sqs.send(new GetQueueAttributesCommand({ QueueUrl: queues[1]!, AttributeNames: ['QueueArn'] }))).Attributes?.['QueueArn']).toContain(`fi-${id}-b`);
    } finally {
      proxy.setRules([]);
      for (const url of queues) await aws.sqs.send(new DeleteQueueCommand({ QueueUrl: url }));
    }
    const arn = (name: string) => `arn:aws:elasticloadbalancing:${REGION}:123456789012:targetgroup/${name}/0123456789abcdef`;
    proxy.setRules([{ service: 'elasticloadbalancing', bodyIncludes: arn(`tg-${id}-a`), fault: 'server-error' }]);
    expect(await failure(aws.elbv2.send(new DescribeTargetGroupsCommand({ TargetGroupArns: [arn(`tg-${id}-a`)] })))).toMatchObject({ name: 'ServiceUnavailable', status: 503 });
    // The other group's request reaches the emulator, which has never heard of it.
    expect(await failure(aws.elbv2.send(new DescribeTargetGroupsCommand({ TargetGroupArns: [arn(`tg-${id}-b`)] })))).toMatchObject({ name: 'TargetGroupNotFoundException' });
    expect(proxy.requests.slice(-2).map((r) => r.fault)).toEqual(['server-error', undefined]);
  });

  it('hangs a request until the SDK\'s abortSignal gives up, then holds nothing open; latency delays and forwards', async () => {
    const aws = clients(3);
    proxy.setRules([{ service: 'sqs', operation: 'ListQueues', fault: 'hang', times: 2 }, { service: 'autoscaling', fault: 'hang' }]);
    for (const call of [
      (signal: AbortSignal) => aws.sqs.send(new ListQueuesCommand({}), { abortSignal: signal }),
      (signal: AbortSignal) => aws.autoScaling.send(new DescribeAutoScalingInstancesCommand({}), { abortSignal: signal }),
    ]) {
      const started = Date.now();
      const e = await failure(call(AbortSignal.timeout(300)));
      expect(e.name).toBe('AbortError');
      expect(Date.now() - started).toBeLessThan(5_000);
      await eventually('the hung request to be closed', async () => proxy.open() === 0, 3_000, 20);
    }
    expect(proxy.requests.slice(-2).map((r) => `${r.operation}:${r.fault}:${r.status}`)).toEqual(['ListQueues:hang:undefined', 'DescribeAutoScalingInstances:hang:undefined']);
    // `times: 2`: one more hang, then ListQueues passes again.
    await failure(aws.sqs.send(new ListQueuesCommand({}), { abortSignal: AbortSignal.timeout(200) }));
    await expect(aws.sqs.send(new ListQueuesCommand({}), { abortSignal: AbortSignal.timeout(5_000) })).resolves.toBeDefined();

    proxy.setRules([{ service: 'sqs', fault: 'latency', latencyMs: 300 }]);
    const started = Date.now();
    await aws.sqs.send(new ListQueuesCommand({}));
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    expect(proxy.requests.at(-1)).toMatchObject({ operation: 'ListQueues', fault: 'latency', status: 200 });
    expect(proxy.open()).toBe(0);
  });
});

describe('kube-apiserver fault proxy, seen by @kubernetes/client-node', () => {
  const admin = adminKubeConfig(info);
  const adminCore = admin.makeApiClient(k8s.CoreV1Api);
  const nodeName = `fault-node-${id}`;
  const namespace = `faults-${id}`;
  let proxy: KubeFaultProxy;
  let viaProxy: k8s.KubeConfig;
  let core: k8s.CoreV1Api;
  beforeAll(async () => {
    proxy = await startKubeFaultProxy({
      kubeconfigPath: info.serviceKubeconfigPath, outputKubeconfigPath: join(info.workDir, `fault-proxy-${id}.kubeconfig`),
      tls: { certFile: join(info.workDir, 'cluster', 'serving.crt'), keyFile: join(info.workDir, 'cluster', 'serving.key') },
    });
    viaProxy = new k8s.KubeConfig();
    viaProxy.loadFromFile(proxy.kubeconfigPath);
    core = viaProxy.makeApiClient(k8s.CoreV1Api);
    await adminCore.createNode({ body: { metadata: { name: nodeName, labels: { test: 'fault-injection' } } } });
    await adminCore.createNamespace({ body: { metadata: { name: namespace } } });
  });
  afterEach(() => proxy.setRules([]));
  afterAll(async () => {
    await proxy?.close();
    await adminCore.deleteNode({ name: nodeName }).catch(() => undefined);
    await adminCore.deleteNamespace({ name: namespace }).catch(() => undefined);
  });

  /** An ApiException's code, headers and Status body. */
  async function apiError(call: Promise<unknown>): Promise<{ code: number; status: Record<string, unknown>; headers: Record<string, string> }> {
    const e = await call.then(() => { throw new Error('the call succeeded'); }, (err: unknown) => err);
    expect(e).toBeInstanceOf(k8s.ApiException);
    const { code, body, headers } = e as k8s.ApiException<string>;
    return { code, status: JSON.parse(body) as Record<string, unknown>, headers };
  }

  it('answers Forbidden exactly as the apiserver\'s authorizer does for the same identity and request', async () => {
    expect(proxy.user).toBe(SERVICE_USER);
    const direct = new k8s.KubeConfig();
    direct.loadFromFile(info.serviceKubeconfigPath);
    const directCore = direct.makeApiClient(k8s.CoreV1Api);
    const coordination = (kc: k8s.KubeConfig) => kc.makeApiClient(k8s.CoordinationV1Api);
    const lease = { metadata: { name: `lease-${id}` }, spec: { holderIdentity: 'x' } };
    // Requests the service's RBAC does not allow: the apiserver itself answers 403; through the proxy the rule does.
    const requests: Array<[RegExp, (c: k8s.CoreV1Api, kc: k8s.KubeConfig) => Promise<unknown>]> = [
      [/\/pods\/nope$/u, (c) => c.readNamespacedPod({ name: 'nope', namespace })],
      [/\/nodes\/[^/]+$/u, (c) => c.replaceNode({ name: nodeName, body: { metadata: { name: nodeName } } })],
      [/\/leases$/u, (_c, kc) => coordination(kc).createNamespacedLease({ namespace, body: lease })],
      [/\/leases\?/u, (_c, kc) => coordination(kc).listLeaseForAllNamespaces({ fieldSelector: `metadata.name=lease-${id}` })],
    ];
    for (const [path, call] of requests) {
      const real = await apiError(call(directCore, direct));
      proxy.setRules([{ path, fault: 'forbidden' }]);
      const injected = await apiError(call(core, viaProxy));
      expect(injected.code).toBe(403);
      expect(injected.status).toEqual(real.status);
      expect(injected.headers['content-type']).toBe('application/json');
    }
    expect(proxy.requests.filter((r) => r.fault === 'forbidden').map((r) => r.status)).toEqual([403, 403, 403, 403]);
  });

  it('answers InternalError, Invalid (shaped like a real 422) and TooManyRequests with Retry-After; `times` and bodyIncludes select the request', async () => {
    proxy.setRules([{ method: 'GET', path: /\/api\/v1\/nodes\//u, fault: 'server-error', times: 1 }]);
    expect(await apiError(core.readNode({ name: nodeName }))).toMatchObject({ code: 500, status: {
      kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'Internal error occurred: injected fault', reason: 'InternalError', details: { causes: [{ message: 'injected fault' }] }, code: 500 } });
    expect((await core.readNode({ name: nodeName })).metadata?.name).toBe(nodeName); // times: 1

    // The service's own Role allows Leases in its namespace: a real Invalid for a bad one, an injected one for a good one.
    const leases = viaProxy.makeApiClient(k8s.CoordinationV1Api);
    const lease = (name: string, seconds: number) => ({ metadata: { name }, spec: { holderIdentity: 'x', leaseDurationSeconds: seconds } });
    const real = await apiError(leases.createNamespacedLease({ namespace: 'lifecycle-manager', body: lease(`bad-${id}`, -1) }));
    proxy.setRules([{ method: 'POST', path: /\/leases$/u, bodyIncludes: `good-${id}`, fault: 'invalid' }]);
    const injected = await apiError(leases.createNamespacedLease({ namespace: 'lifecycle-manager', body: lease(`good-${id}`, 10) }));
    expect(Object.keys(injected.status)).toEqual(Object.keys(real.status));
    expect(injected.status).toMatchObject({ reason: 'Invalid', code: 422, details: { name: `good-${id}`, group: 'coordination.k8s.io', kind: 'Lease' } });
    expect(real.status).toMatchObject({ reason: 'Invalid', code: 422, details: { name: `bad-${id}`, group: 'coordination.k8s.io', kind: 'Lease' } });
    expect(Object.keys((injected.status['details'] as object))).toEqual(Object.keys(real.status['details'] as object));
    expect(String(injected.status['message'])).toMatch(new RegExp(`^Lease\\.coordination\\.k8s\\.io "good-${id}" is invalid: `, 'u'));
    await leases.createNamespacedLease({ namespace: 'lifecycle-manager', body: lease(`other-${id}`, 10) }); // body does not match
    await leases.deleteNamespacedLease({ name: `other-${id}`, namespace: 'lifecycle-manager' });

    proxy.setRules([{ method: 'POST', path: /\/eviction$/u, fault: 'too-many-requests', message: 'Cannot evict pod as it would violate the pod\'s disruption budget.' }]);
    const eviction = await apiError(core.createNamespacedPodEviction({ name: 'p', namespace, body: { metadata: { name: 'p', namespace } } }));
    expect(eviction).toMatchObject({ code: 429, headers: { 'retry-after': '1' }, status: {
      reason: 'TooManyRequests', code: 429, message: 'Cannot evict pod as it would violate the pod\'s disruption budget.', details: { retryAfterSeconds: 1 } } });
  });

  it('hangs a call until its per-call signal aborts, then holds nothing open; latency delays and forwards', async () => {
    proxy.setRules([{ path: /\/api\/v1\/nodes\//u, fault: 'hang' }]);
    const started = Date.now();
    const e = await core.readNode({ name: nodeName }, withSignal(AbortSignal.timeout(300))).then(() => undefined, (err: Error) => err);
    expect(e?.name).toBe('AbortError');
    expect(Date.now() - started).toBeLessThan(5_000);
    await eventually('the hung request to be closed', async () => proxy.open() === 0, 3_000, 20);
    expect(proxy.requests.at(-1)).toMatchObject({ method: 'GET', fault: 'hang', status: undefined });

    proxy.setRules([{ path: /\/api\/v1\/nodes\//u, fault: 'latency', latencyMs: 300 }]);
    const t0 = Date.now();
    expect((await core.readNode({ name: nodeName })).metadata?.name).toBe(nodeName);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(290);
    expect(proxy.requests.at(-1)).toMatchObject({ fault: 'latency', status: 200 });
  });

  it('passes watches through (events stream) while other requests to the same path fail, and fails a watch a rule matches', async () => {
    proxy.setRules([{ method: 'GET', path: /\/api\/v1\/nodes/u, watch: false, fault: 'server-error' }]);
    const events: string[] = [];
    let ended: unknown = 'open';
    const watch = await new k8s.Watch(viaProxy).watch('/api/v1/nodes', { fieldSelector: `metadata.name=${nodeName}` },
      (type, node: k8s.V1Node) => events.push(`${type}:${node.metadata?.labels?.['step'] ?? '-'}`), (err) => { ended = err; });
    try {
      await eventually('the initial ADDED event', async () => events.includes('ADDED:-'), 10_000, 50);
      await adminCore.patchNode({ name: nodeName, body: { metadata: { labels: { step: 'one' } } } }, k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch));
      await eventually('the MODIFIED event', async () => events.includes('MODIFIED:one'), 10_000, 50);
      expect((await apiError(core.readNode({ name: nodeName }))).code).toBe(500); // not the watch
      expect(ended).toBe('open');
    } finally {
      watch.abort();
    }
    await eventually('the watch to be closed on the proxy', async () => proxy.open() === 0, 3_000, 20);

    proxy.setRules([{ path: /\/api\/v1\/nodes/u, watch: true, fault: 'server-error' }]);
    let failed: { statusCode?: number } | null | undefined;
    const second = await new k8s.Watch(viaProxy).watch('/api/v1/nodes', {}, () => undefined, (err) => { failed = err as typeof failed; });
    await eventually('the failed watch', async () => failed !== undefined, 5_000, 20);
    second.abort();
    expect(failed?.statusCode).toBe(500);
    expect(proxy.requests.filter((r) => r.url.includes('watch=true')).map((r) => `${r.status}:${r.fault}`)).toEqual(['200:undefined', '500:server-error']);
  });
});
