import { GetRoleCommand, type IAMClient, SimulatePrincipalPolicyCommand } from '@aws-sdk/client-iam';
import { GetCallerIdentityCommand, type STSClient } from '@aws-sdk/client-sts';
import type { PermissionSimulator, SimulationOutcome } from '../doctor/ports.js';
import { AccessDeniedError, RequestRejectedError, describeError } from '../lifecycle/errors.js';
import { toAdminError } from './adminErrors.js';

type Iam = Pick<IAMClient, 'send'>;
type Sts = Pick<STSClient, 'send'>;

/** `arn:aws:sts::123:assumed-role/Name/session` → the role's name and partition/account. */
const ASSUMED_ROLE = /^arn:([^:]+):sts::(\d+):assumed-role\/([^/]+)\/.+$/u;

/** iam:SimulatePrincipalPolicy, and sts:GetCallerIdentity to know whom to simulate by default. */
export class AwsPermissionSimulator implements PermissionSimulator {
  constructor(private readonly iam: Iam, private readonly sts: Sts) {}

  async callerArn(signal: AbortSignal): Promise<string> {
    let arn: string;
    try {
      arn = (await this.sts.send(new GetCallerIdentityCommand({}), { abortSignal: signal })).Arn ?? '';
    } catch (e) {
      throw toAdminError(e, 'sts:GetCallerIdentity');
    }
    const assumed = ASSUMED_ROLE.exec(arn);
    if (!assumed) return arn;
    // A session's ARN is not a principal IAM can simulate; its role (with the role's path) is.
    try {
      return (await this.iam.send(new GetRoleCommand({ RoleName: assumed[3] }), { abortSignal: signal })).Role?.Arn ?? `arn:${assumed[1]}:iam::${assumed[2]}:role/${assumed[3]}`;
    } catch {
      return `arn:${assumed[1]}:iam::${assumed[2]}:role/${assumed[3]}`;
    }
  }

  async simulate(principalArn: string, actions: readonly string[], resourceArns: readonly string[], signal: AbortSignal): Promise<SimulationOutcome> {
    const denied = new Set<string>();
    let marker: string | undefined;
    try {
      do {
        const out = await this.iam.send(new SimulatePrincipalPolicyCommand({
          PolicySourceArn: principalArn, ActionNames: [...actions], ...(resourceArns.length > 0 ? { ResourceArns: [...resourceArns] } : {}), Marker: marker,
        }), { abortSignal: signal });
        for (const r of out.EvaluationResults ?? []) if (r.EvalActionName && r.EvalDecision !== 'allowed') denied.add(r.EvalActionName);
        marker = out.IsTruncated ? out.Marker : undefined;
      } while (marker);
      return { kind: 'simulated', denied: actions.filter((a) => denied.has(a)) };
    } catch (e) {
      const mapped = toAdminError(e, 'iam:SimulatePrincipalPolicy');
      if (mapped instanceof AccessDeniedError) return { kind: 'unavailable', reason: `the caller may not use iam:SimulatePrincipalPolicy (${describeError(mapped)})` };
      // A principal that does not exist is a real answer, not a missing feature.
      if (mapped instanceof RequestRejectedError && /NoSuchEntity/u.test(mapped.message)) return { kind: 'principal-not-found', detail: describeError(mapped) };
      const status = (e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      return { kind: 'unavailable', reason: `iam:SimulatePrincipalPolicy is not available at this endpoint (${status ? `HTTP ${status}` : describeError(mapped)})` };
    }
  }
}
