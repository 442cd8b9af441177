import type { AccessReviewer } from '../doctor/ports.js';
import type { KubeClients } from './apiClients.js';
import { withSignal } from './apiClients.js';
import { toDomainError } from './errors.js';
import { type KubePermission, splitResource } from './permissions.js';

/** Asks the apiserver, with SelfSubjectAccessReview, whether the current identity holds a permission. */
export class SelfAccessReviewer implements AccessReviewer {
  constructor(private readonly clients: Pick<KubeClients, 'authorization'>, readonly identity: string) {}

  async allowed(permission: KubePermission, signal: AbortSignal): Promise<boolean> {
    const { resource, subresource } = splitResource(permission.resource);
    try {
      const review = await this.clients.authorization.createSelfSubjectAccessReview({
        body: {
          apiVersion: 'authorization.k8s.io/v1', kind: 'SelfSubjectAccessReview',
          spec: { resourceAttributes: { group: permission.apiGroup, resource, verb: permission.verb, ...(subresource ? { subresource } : {}), ...(permission.namespace ? { namespace: permission.namespace } : {}) } },
        },
      }, withSignal(signal));
      return review.status?.allowed === true;
    } catch (e) {
      throw toDomainError(e, `SelfSubjectAccessReview for ${permission.verb} ${permission.resource}`);
    }
  }
}
