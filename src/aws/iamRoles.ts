import {
  AttachRolePolicyCommand,
  CreateRoleCommand,
  DeleteRoleCommand,
  DetachRolePolicyCommand,
  GetRoleCommand,
  type IAMClient,
  ListAttachedRolePoliciesCommand,
  TagRoleCommand,
  UpdateAssumeRolePolicyCommand,
} from '@aws-sdk/client-iam';
import type { CreateRoleRequest, IamRoles, RoleState, Tags } from '../enrollment/ports.js';
import { toAdminError } from './adminErrors.js';
import { awsErrorName } from './errors.js';

type Iam = Pick<IAMClient, 'send'>;

const NOT_FOUND = 'NoSuchEntityException';
const NOT_FOUND_CODES = new Set([NOT_FOUND, 'NoSuchEntity']);
const IN_USE_CODES = new Set(['DeleteConflictException', 'DeleteConflict']);

const toTagList = (tags: Tags) => Object.entries(tags).map(([Key, Value]) => ({ Key, Value }));

/** The IAM role operations enroll and unenroll use (the notification role Auto Scaling assumes). */
export class AwsIamRoles implements IamRoles {
  constructor(private readonly client: Iam) {}

  async getRole(name: string, signal: AbortSignal): Promise<RoleState | undefined> {
    try {
      const role = (await this.client.send(new GetRoleCommand({ RoleName: name }), { abortSignal: signal })).Role;
      if (!role?.Arn) return undefined;
      const attached: string[] = [];
      let marker: string | undefined;
      do {
        const page = await this.client.send(new ListAttachedRolePoliciesCommand({ RoleName: name, Marker: marker }), { abortSignal: signal });
        attached.push(...(page.AttachedPolicies ?? []).flatMap((p) => (p.PolicyArn ? [p.PolicyArn] : [])));
        marker = page.IsTruncated ? page.Marker : undefined;
      } while (marker);
      return {
        name,
        arn: role.Arn,
        trustPolicy: decodePolicy(role.AssumeRolePolicyDocument ?? ''),
        attachedPolicyArns: attached,
        tags: Object.fromEntries((role.Tags ?? []).map((t) => [t.Key ?? '', t.Value ?? ''])),
      };
    } catch (e) {
      if (NOT_FOUND_CODES.has(awsErrorName(e))) return undefined;
      throw toAdminError(e, 'iam:GetRole');
    }
  }

  async createRole(request: CreateRoleRequest, signal: AbortSignal): Promise<string> {
    try {
      const out = await this.client.send(new CreateRoleCommand({
        RoleName: request.name, Description: request.description, AssumeRolePolicyDocument: request.trustPolicy, Tags: toTagList(request.tags),
      }), { abortSignal: signal });
      return out.Role?.Arn ?? '';
    } catch (e) {
      throw toAdminError(e, 'iam:CreateRole');
    }
  }

  async updateTrustPolicy(name: string, trustPolicy: string, signal: AbortSignal): Promise<void> {
    try {
      await this.client.send(new UpdateAssumeRolePolicyCommand({ RoleName: name, PolicyDocument: trustPolicy }), { abortSignal: signal });
    } catch (e) {
      throw toAdminError(e, 'iam:UpdateAssumeRolePolicy');
    }
  }

  async attachPolicy(name: string, policyArn: string, signal: AbortSignal): Promise<void> {
    try {
      await this.client.send(new AttachRolePolicyCommand({ RoleName: name, PolicyArn: policyArn }), { abortSignal: signal });
    } catch (e) {
      throw toAdminError(e, 'iam:AttachRolePolicy');
    }
  }

  async tagRole(name: string, tags: Tags, signal: AbortSignal): Promise<void> {
    try {
      await this.client.send(new TagRoleCommand({ RoleName: name, Tags: toTagList(tags) }), { abortSignal: signal });
    } catch (e) {
      throw toAdminError(e, 'iam:TagRole');
    }
  }

  async detachPolicy(name: string, policyArn: string, signal: AbortSignal): Promise<'detached' | 'gone'> {
    try {
      await this.client.send(new DetachRolePolicyCommand({ RoleName: name, PolicyArn: policyArn }), { abortSignal: signal });
      return 'detached';
    } catch (e) {
      if (NOT_FOUND_CODES.has(awsErrorName(e))) return 'gone';
      throw toAdminError(e, 'iam:DetachRolePolicy');
    }
  }

  async deleteRole(name: string, signal: AbortSignal): Promise<'deleted' | 'gone' | 'in-use'> {
    try {
      await this.client.send(new DeleteRoleCommand({ RoleName: name }), { abortSignal: signal });
      return 'deleted';
    } catch (e) {
      if (NOT_FOUND_CODES.has(awsErrorName(e))) return 'gone';
      if (IN_USE_CODES.has(awsErrorName(e))) return 'in-use';
      throw toAdminError(e, 'iam:DeleteRole');
    }
  }
}

/** IAM returns policy documents URL-encoded. */
function decodePolicy(document: string): string {
  if (document.trimStart().startsWith('{')) return document;
  try {
    return decodeURIComponent(document);
  } catch {
    return document;
  }
}
