/** What doctor needs beyond the enrollment ports: IAM policy simulation and Kubernetes access reviews. */
import type { KubePermission } from '../kube/permissions.js';

export type SimulationOutcome =
  | { readonly kind: 'simulated'; readonly denied: readonly string[] }
  /** The endpoint does not implement the call, or the caller may not use it: the check is skipped, not failed. */
  | { readonly kind: 'unavailable'; readonly reason: string }
  | { readonly kind: 'principal-not-found'; readonly detail: string };

export interface PermissionSimulator {
  /** The ARN of the identity running doctor, as IAM names it (an assumed role becomes its role ARN). */
  callerArn(signal: AbortSignal): Promise<string>;
  /** Which of `actions` the principal's policies do not allow on `resourceArns` (all resources when empty). */
  simulate(principalArn: string, actions: readonly string[], resourceArns: readonly string[], signal: AbortSignal): Promise<SimulationOutcome>;
}

export interface AccessReviewer {
  /** Who is asking, for messages (the kubeconfig context or "in-cluster service account"). */
  readonly identity: string;
  /** SelfSubjectAccessReview: may the current identity do this? */
  allowed(permission: KubePermission, signal: AbortSignal): Promise<boolean>;
}
