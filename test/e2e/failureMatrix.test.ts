import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FAILURE_CLASSES, type FailureClass, type StepName } from '../../src/lifecycle/step.js';
import { stepRows } from '../../src/lifecycle/terminationSteps.js';
import { type FaultRule, startFaultProxy } from '../harness/faultProxy.js';
import { eventually } from '../harness/infra.js';
import { type KubeFaultRule, startKubeFaultProxy } from '../harness/kubeFaultProxy.js';
import { loadBalancerFixtures } from '../harness/loadBalancers.js';
import { type MatrixCase, assertOutcome } from './failureMatrixChecks.js';
import { e2eFixture } from './fixture.js';

/**
 * The failure matrix: for every step of the termination table (src/lifecycle/terminationSteps.ts) and every failure
 * class, inject that failure at the edge the step talks to (AWS through a fault proxy, the apiserver through
 * another) and check what a user would check — were the pods evicted before the instance was released, was anything
 * outside the instance touched, was the hook completed exactly once and before it expired, is the failure visible
 * as an Event on the Node and a metric. A transient failure or a timeout is injected a few times and must be ridden
 * out; a permanent or forbidden one stays, and the step's declared policy decides the outcome.
 */
const f = e2eFixture({ graceScale: 0.05 });
const lb = loadBalancerFixtures(f.aws);
beforeAll(() => f.start());
afterAll(async () => { await f.stop(); await lb.cleanup(); });

/** The table the service runs (its declarations; the default --deregister-order). */
const TABLE = stepRows('before-drain');

const flags = (maxTerminationGracePeriodSeconds = 2): string[] => ['--polling-interval', '1', '--drain-interval', '1', '--drain-timeout', '8',
  '--drain-retries', '1', '--max-termination-grace-period', String(maxTerminationGracePeriodSeconds), '--node-join-timeout', '2',
  '--deregistration-timeout', '20', '--api-timeout', '2', '--lease-duration', '5', '--visibility-timeout', '10'];

/** How a failure class is injected: transient and timeout a few times (then the request goes through), the others for good. */
const AWS_FAULT: Record<FailureClass, Pick<FaultRule, 'fault' | 'times' | 'message'>> = {
  transient: { fault: 'server-error', times: 2 },
  timeout: { fault: 'hang', times: 1 },
  permanent: { fault: 'validation', message: 'injected: this request is invalid' },
  forbidden: { fault: 'access-denied' },
};
const KUBE_FAULT: Record<FailureClass, Pick<KubeFaultRule, 'fault' | 'times'>> = {
  transient: { fault: 'server-error', times: 2 },
  timeout: { fault: 'hang', times: 1 },
  permanent: { fault: 'invalid' },
  forbidden: { fault: 'forbidden' },
};

/** Where each step's failures are injected. A step added to the table without a row here fails the first test. */
interface Recipe {
  readonly heartbeatTimeoutSeconds?: number;
  /** Before the service starts: remove the Node, register targets… */
  setup?(c: MatrixCase): Promise<void>;
  readonly aws?: (c: MatrixCase) => Omit<FaultRule, 'fault' | 'times' | 'message'>;
  /** `times` bounds a fault the failure class leaves unbounded (permanent, forbidden) to the step's own reads. */
  readonly kube?: (c: MatrixCase) => Omit<KubeFaultRule, 'fault'>;
}

const RECIPES: Record<StepName, Recipe> = {
  verify: { heartbeatTimeoutSeconds: 60, aws: (c) => ({ service: 'autoscaling', operation: 'DescribeAutoScalingInstances', bodyIncludes: c.victim.instanceId }) },
  claim: { heartbeatTimeoutSeconds: 60, kube: (c) => ({ method: 'POST', path: /^\/apis\/coordination\.k8s\.io\/v1\/namespaces\/[^/]+\/leases$/u, bodyIncludes: c.victim.instanceId }) },
  await_node: {
    // The instance never joined: only a fresh read from the apiserver can prove it has no Node.
    setup: async (c) => { await f.kubelet.core.deleteNode({ name: c.victim.nodeName }); },
    kube: () => ({ method: 'GET', path: /^\/api\/v1\/nodes\?/u, watch: false }),
  },
  cordon: { kube: (c) => ({ method: 'PATCH', path: new RegExp(`^/api/v1/nodes/${c.victim.nodeName}$`, 'u'), bodyIncludes: '"unschedulable":true' }) },
  // The plan reads the budgets from serve's index; its read of the node's pods is the LIST whose pods the load
  // balancers' step and the drain's watch start from: the fault hits that first LIST only (a pod LIST that keeps
  // failing is the drain's).
  plan_drain: { kube: (c) => ({ times: 1, method: 'GET', path: new RegExp(`^/api/v1/pods\\?(.*&)?fieldSelector=spec\\.nodeName(=|%3D)${c.victim.nodeName.replace(/\./gu, '\\.')}(&|$)`, 'u'), watch: false }) },
  deregister: {
    setup: async (c) => {
      c.targetGroupArn = await lb.targetGroup(`mx-${c.world.id}`, { deregistrationDelaySeconds: 1 });
      await lb.register(c.targetGroupArn, [{ id: c.victim.instanceId, port: 80 }, { id: c.bystander.instanceId, port: 80 }]);
    },
    aws: (c) => ({ service: 'elasticloadbalancing', operation: 'DeregisterTargets', bodyIncludes: c.targetGroupArn! }),
  },
  drain: { kube: (c) => ({ method: 'POST', path: new RegExp(`/pods/${c.victim.instanceId}-pod-0/eviction$`, 'u') }) },
  await_volumes: {
    // A DaemonSet pod with a volume stays on the node: the wait reads its claim to leave that attachment out.
    setup: async (c) => {
      await f.kubelet.volumes.createVolume(c.world.namespace, 'node-cache');
      await f.kubelet.createPod(c.world.namespace, { name: 'node-agent', nodeName: c.victim.nodeName, ownerKind: 'DaemonSet', claims: ['node-cache'] });
      await eventually('the node-agent volume to be attached', async () => (await f.kubelet.volumes.attachmentsOn(c.victim.nodeName)).length === 1, 20_000, 100);
    },
    kube: (c) => ({ method: 'GET', path: new RegExp(`^/api/v1/namespaces/${c.world.namespace}/persistentvolumeclaims/node-cache$`, 'u') }),
  },
  delete_node: { kube: (c) => ({ method: 'DELETE', path: new RegExp(`^/api/v1/nodes/${c.victim.nodeName}$`, 'u') }) },
  complete: { aws: (c) => ({ service: 'autoscaling', operation: 'CompleteLifecycleAction', bodyIncludes: c.victim.instanceId }) },
  settle: { aws: () => ({ service: 'sqs', operation: 'DeleteMessage' }) },
};

describe('failure matrix', () => {
  it('has an injection recipe for every step of the termination table, in the table\'s order', () => {
    expect(Object.keys(RECIPES)).toEqual(TABLE.map((s) => s.name));
  });

  describe.concurrent.each(TABLE.map((s) => [s.name, s] as const))('step %s', (name, step) => {
    it.each(FAILURE_CLASSES)(`%s failure (policy ${step.onFailure})`, async (failure) => {
      const recipe = RECIPES[name];
      const world = await f.world({ instances: 2, heartbeatTimeoutSeconds: recipe.heartbeatTimeoutSeconds ?? 30, podsPerNode: 1 });
      const c: MatrixCase = { world, victim: world.instances[0]!, bystander: world.instances[1]!, step, failure, targetGroupArn: undefined, f };
      await recipe.setup?.(c);
      const aws = await startFaultProxy(f.info.motoEndpoint);
      const kube = await startKubeFaultProxy({
        kubeconfigPath: f.info.serviceKubeconfigPath, outputKubeconfigPath: join(f.info.workDir, `mx-${world.id}.kubeconfig`),
        tls: { certFile: join(f.info.workDir, 'cluster', 'serving.crt'), keyFile: join(f.info.workDir, 'cluster', 'serving.key') },
      });
      try {
        const lm = await f.serve(world, flags(), { env: { AWS_ENDPOINT_URL: aws.endpoint }, kubeconfigPath: kube.kubeconfigPath });
        // Faults start once the service is up (its startup checks and first node list are not what is tested).
        if (recipe.aws) aws.setRules([{ ...recipe.aws(c), ...AWS_FAULT[failure] }]);
        if (recipe.kube) kube.setRules([{ ...recipe.kube(c), ...KUBE_FAULT[failure] }]);
        await world.terminate(c.victim.instanceId);
        await assertOutcome(c, lm, () => { aws.setRules([]); kube.setRules([]); });
        const injected = aws.requests.filter((r) => r.fault).length + kube.requests.filter((r) => r.fault).length;
        expect(injected, 'the fault was injected at least once').toBeGreaterThan(0);
      } finally {
        await Promise.allSettled([aws.close(), kube.close()]);
      }
    });
  });

  it('abandons and keeps the Node when pods cannot be evicted and escalation is disabled', async () => {
    const world = await f.world({ instances: 1, heartbeatTimeoutSeconds: 30, podsPerNode: 1 });
    const [victim] = world.instances;
    const kube = await startKubeFaultProxy({
      kubeconfigPath: f.info.serviceKubeconfigPath, outputKubeconfigPath: join(f.info.workDir, `mx-${world.id}.kubeconfig`),
      tls: { certFile: join(f.info.workDir, 'cluster', 'serving.crt'), keyFile: join(f.info.workDir, 'cluster', 'serving.key') },
    });
    try {
      const lm = await f.serve(world, flags(0), { kubeconfigPath: kube.kubeconfigPath });
      kube.setRules([{ method: 'POST', path: /\/eviction$/u, fault: 'forbidden' }]);
      await world.terminate(victim!.instanceId);
      const action = await eventually('the action to end', async () => (await f.actions(victim!.instanceId)).find((a) => a.result !== null), 60_000, 300);
      expect({ result: action.result, source: action.resultSource, completes: action.completeCalls }).toEqual({ result: 'ABANDON', source: 'complete', completes: 1 });
      expect(await world.nodeExists(victim!.nodeName)).toBe(true); // its pods were never evicted: the Node stays
      expect((await world.podsOn(victim!.nodeName)).length).toBe(1);
      expect((await world.nodeEvents(victim!.nodeName)).map((e) => e.reason)).toEqual(expect.arrayContaining(['PodEvictionRefused', 'NodeDrainFailed', 'LifecycleStepFailed', 'LifecycleHookFailed']));
      expect(await lm.metric('lifecycle_manager_step_failures_total', { step: 'drain', policy: 'abandon' })).toBe(1);
    } finally {
      await kube.close();
    }
  });
});
