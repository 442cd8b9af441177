import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';

const GROUP = 'elbv2.k8s.aws';
const VERSION = 'v1beta1';
const PLURAL = 'targetgroupbindings';
const CRD_NAME = `${PLURAL}.${GROUP}`;

/** The harness's TargetGroupBinding CRD (test/cluster/crds), written from the AWS Load Balancer Controller's API reference. */
export function targetGroupBindingCrd(repoRoot: string): k8s.V1CustomResourceDefinition {
  return k8s.loadYaml<k8s.V1CustomResourceDefinition>(readFileSync(join(repoRoot, 'test', 'cluster', 'crds', `${CRD_NAME}.yaml`), 'utf8'));
}

/** Installs the CRD (as an admin) unless it is there, and waits until the apiserver serves it (Established). */
export async function installTargetGroupBindingCrd(kc: k8s.KubeConfig, repoRoot: string): Promise<void> {
  const api = kc.makeApiClient(k8s.ApiextensionsV1Api);
  await api.createCustomResourceDefinition({ body: targetGroupBindingCrd(repoRoot) }).catch((e: { code?: number }) => { if (e.code !== 409) throw e; });
  const deadline = Date.now() + 30_000;
  for (;;) {
    const crd = await api.readCustomResourceDefinition({ name: CRD_NAME });
    if (crd.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True')) break;
    if (Date.now() > deadline) throw new Error(`CRD ${CRD_NAME} not Established within 30s`);
    await new Promise((r) => setTimeout(r, 100));
  }
  // The discovery document and the storage can lag Established by a moment: wait until a LIST answers.
  const custom = kc.makeApiClient(k8s.CustomObjectsApi);
  for (;;) {
    try {
      await custom.listClusterCustomObject({ group: GROUP, version: VERSION, plural: PLURAL, limit: 1 });
      return;
    } catch (e) {
      if (Date.now() > deadline) throw e;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

export interface BindingSpec {
  readonly namespace: string;
  readonly name: string;
  readonly targetGroupARN?: string;
  readonly targetGroupName?: string;
  /** What the controller's webhook would have filled in; left out when undefined. */
  readonly targetType?: 'instance' | 'ip';
  readonly vpcID?: string;
  readonly serviceName?: string;
  readonly servicePort?: number;
}

/** Creates a TargetGroupBinding as the AWS Load Balancer Controller would for a Service (its namespace must exist). */
export async function createBinding(kc: k8s.KubeConfig, b: BindingSpec): Promise<void> {
  const custom = kc.makeApiClient(k8s.CustomObjectsApi);
  await custom.createNamespacedCustomObject({
    group: GROUP, version: VERSION, plural: PLURAL, namespace: b.namespace,
    body: {
      apiVersion: `${GROUP}/${VERSION}`, kind: 'TargetGroupBinding',
      metadata: { name: b.name, namespace: b.namespace, labels: { 'ingress.k8s.aws/stack-name': b.serviceName ?? b.name } },
      spec: {
        serviceRef: { name: b.serviceName ?? b.name, port: b.servicePort ?? 80 },
        ...(b.targetGroupARN ? { targetGroupARN: b.targetGroupARN } : {}),
        ...(b.targetGroupName ? { targetGroupName: b.targetGroupName } : {}),
        ...(b.targetType ? { targetType: b.targetType } : {}),
        ...(b.vpcID ? { vpcID: b.vpcID } : {}),
        ipAddressType: 'ipv4',
      },
    },
  });
}

export async function deleteBinding(kc: k8s.KubeConfig, namespace: string, name: string): Promise<void> {
  const custom = kc.makeApiClient(k8s.CustomObjectsApi);
  await custom.deleteNamespacedCustomObject({ group: GROUP, version: VERSION, plural: PLURAL, namespace, name }).catch((e: { code?: number }) => { if (e.code !== 404) throw e; });
}
