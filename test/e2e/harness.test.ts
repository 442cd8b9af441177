import { ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import * as k8s from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../harness/infra.js';
import { e2eFixture } from './fixture.js';

const f = e2eFixture();

beforeAll(() => f.start());
afterAll(() => f.stop());

describe('the test harness (real kube-apiserver + moto with lifecycle hooks)', () => {
  it('delivers AWS\'s lifecycle message to SQS after TerminateInstanceInAutoScalingGroup and holds the instance in Terminating:Wait', async () => {
    const world = await f.world({ instances: 2, heartbeatTimeoutSeconds: 60 });
    const victim = world.instances[0]!;
    await world.terminate(victim.instanceId);

    expect(await world.lifecycleState(victim.instanceId)).toBe('Terminating:Wait');
    const bodies: Record<string, unknown>[] = [];
    await eventually('the termination message', async () => {
      const out = await f.aws.sqs.send(new ReceiveMessageCommand({ QueueUrl: world.queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));
      bodies.push(...(out.Messages ?? []).map((m) => JSON.parse(m.Body!) as Record<string, unknown>));
      return bodies.find((b) => b['LifecycleTransition'] === 'autoscaling:EC2_INSTANCE_TERMINATING');
    }, 15_000);
    const message = bodies.find((b) => b['LifecycleTransition'] === 'autoscaling:EC2_INSTANCE_TERMINATING')!;
    expect(message).toMatchObject({
      Origin: 'AutoScalingGroup', Destination: 'EC2', Service: 'AWS Auto Scaling', AccountId: '123456789012',
      EC2InstanceId: victim.instanceId, AutoScalingGroupName: world.autoScalingGroupName, LifecycleHookName: world.lifecycleHookName,
    });
    expect(message['LifecycleActionToken']).toMatch(/^[0-9a-f-]{36}$/u);
    expect(message['RequestId']).toMatch(/^[0-9a-f-]{36}$/u);
    // PutLifecycleHook also published AWS's test notification, as AWS does.
    expect(bodies.some((b) => b['Event'] === 'autoscaling:TEST_NOTIFICATION')).toBe(true);
  });

  it('lets the service identity evict a real pod through the eviction API, and refuses an identity without the ClusterRole', async () => {
    const world = await f.world({ instances: 1, heartbeatTimeoutSeconds: 60, podsPerNode: 1 });
    const node = world.instances[0]!;
    const [pod] = await world.podsOn(node.nodeName);
    const eviction = (name: string): k8s.V1Eviction => ({ apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name, namespace: world.namespace } });

    const limited = new k8s.KubeConfig();
    limited.loadFromFile(f.info.limitedKubeconfigPath);
    await expect(limited.makeApiClient(k8s.CoreV1Api).createNamespacedPodEviction({ name: pod!.metadata!.name!, namespace: world.namespace, body: eviction(pod!.metadata!.name!) }))
      .rejects.toMatchObject({ code: 403 });

    const service = new k8s.KubeConfig();
    service.loadFromFile(f.info.serviceKubeconfigPath);
    await service.makeApiClient(k8s.CoreV1Api).createNamespacedPodEviction({ name: pod!.metadata!.name!, namespace: world.namespace, body: eviction(pod!.metadata!.name!) });
    // The fake kubelet finishes the graceful deletion; the pod is really gone from the apiserver.
    await eventually('the evicted pod to be gone', async () => (await world.podsOn(node.nodeName)).length === 0, 20_000);
  });
});
