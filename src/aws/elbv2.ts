import {
  DeregisterTargetsCommand,
  DescribeTargetGroupAttributesCommand,
  DescribeTargetGroupsCommand,
  DescribeTargetHealthCommand,
  type ElasticLoadBalancingV2Client,
  type TargetGroup,
  type TargetHealthDescription,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { ResourceGoneError } from '../lifecycle/errors.js';
import { type TargetGroupSummary, type TargetGroupsPort, type TargetHealth, type TargetRef, targetGroupName } from '../loadbalancing/ports.js';
import { awsErrorName, toDomainError } from './errors.js';

type ElbV2 = Pick<ElasticLoadBalancingV2Client, 'send'>;

const NOT_FOUND = new Set(['TargetGroupNotFound', 'TargetGroupNotFoundException']);
const INVALID_TARGET = new Set(['InvalidTarget', 'InvalidTargetException']);
const DEFAULT_DEREGISTRATION_DELAY_SECONDS = 300;
const PAGE_SIZE = 400;

/**
 * Elastic Load Balancing v2 target groups, one SDK call per method (plus pagination). A target group that no longer
 * exists → ResourceGoneError; InvalidTarget on a deregistration → 'invalid-target'; the rest via toDomainError.
 */
export class AwsTargetGroups implements TargetGroupsPort {
  constructor(private readonly client: ElbV2) {}

  async listTargetGroups(signal: AbortSignal): Promise<TargetGroupSummary[]> {
    const groups: TargetGroupSummary[] = [];
    let marker: string | undefined;
    do {
      const out = await this.send('DescribeTargetGroups', undefined, () =>
        this.client.send(new DescribeTargetGroupsCommand({ PageSize: PAGE_SIZE, ...(marker ? { Marker: marker } : {}) }), { abortSignal: signal }));
      for (const g of out.TargetGroups ?? []) {
        const summary = toSummary(g);
        if (summary) groups.push(summary);
      }
      marker = out.NextMarker;
    } while (marker);
    return groups;
  }

  async describeTargetGroup(ref: { readonly arn: string } | { readonly name: string }, signal: AbortSignal): Promise<TargetGroupSummary | undefined> {
    try {
      const out = await this.client.send(new DescribeTargetGroupsCommand('arn' in ref ? { TargetGroupArns: [ref.arn] } : { Names: [ref.name] }), { abortSignal: signal });
      return (out.TargetGroups ?? []).map(toSummary).find((g) => g !== undefined);
    } catch (e) {
      if (NOT_FOUND.has(awsErrorName(e))) return undefined;
      throw toDomainError(e, 'elasticloadbalancing:DescribeTargetGroups');
    }
  }

  async describeTargetHealth(arn: string, targets: readonly TargetRef[] | undefined, signal: AbortSignal): Promise<TargetHealth[]> {
    try {
      const out = await this.client.send(new DescribeTargetHealthCommand({
        TargetGroupArn: arn, ...(targets ? { Targets: targets.map((t) => ({ Id: t.id, Port: t.port })) } : {}),
      }), { abortSignal: signal });
      return (out.TargetHealthDescriptions ?? []).flatMap(toTargetHealth);
    } catch (e) {
      // AWS answers InvalidTarget when a target asked about cannot be described at all; for one target that means
      // "not registered", for several it is asked about one by one.
      if (targets && INVALID_TARGET.has(awsErrorName(e))) {
        if (targets.length === 1) return [{ ...targets[0]!, state: 'unused', reason: 'Target.InvalidTarget' }];
        const each = await Promise.all(targets.map((t) => this.describeTargetHealth(arn, [t], signal)));
        return each.flat();
      }
      throw mapError(e, arn, 'elasticloadbalancing:DescribeTargetHealth');
    }
  }

  async deregisterTargets(arn: string, targets: readonly TargetRef[], signal: AbortSignal): Promise<'deregistered' | 'invalid-target'> {
    try {
      await this.client.send(new DeregisterTargetsCommand({ TargetGroupArn: arn, Targets: targets.map((t) => ({ Id: t.id, Port: t.port })) }), { abortSignal: signal });
      return 'deregistered';
    } catch (e) {
      if (INVALID_TARGET.has(awsErrorName(e))) return 'invalid-target';
      throw mapError(e, arn, 'elasticloadbalancing:DeregisterTargets');
    }
  }

  async deregistrationDelaySeconds(arn: string, signal: AbortSignal): Promise<number> {
    const out = await this.send('DescribeTargetGroupAttributes', arn, () =>
      this.client.send(new DescribeTargetGroupAttributesCommand({ TargetGroupArn: arn }), { abortSignal: signal }));
    const value = out.Attributes?.find((a) => a.Key === 'deregistration_delay.timeout_seconds')?.Value;
    const seconds = Number(value);
    return value !== undefined && Number.isFinite(seconds) && seconds >= 0 ? seconds : DEFAULT_DEREGISTRATION_DELAY_SECONDS;
  }

  private async send<T>(operation: string, arn: string | undefined, call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (e) {
      throw mapError(e, arn, `elasticloadbalancing:${operation}`);
    }
  }
}

function mapError(e: unknown, arn: string | undefined, operation: string): unknown {
  if (arn && NOT_FOUND.has(awsErrorName(e))) return new ResourceGoneError(`target group ${targetGroupName(arn)}`, { cause: e });
  return toDomainError(e, operation);
}

function toSummary(g: TargetGroup): TargetGroupSummary | undefined {
  if (!g.TargetGroupArn) return undefined;
  return { arn: g.TargetGroupArn, name: g.TargetGroupName ?? targetGroupName(g.TargetGroupArn), targetType: g.TargetType ?? 'instance', vpcId: g.VpcId };
}

function toTargetHealth(d: TargetHealthDescription): TargetHealth[] {
  const id = d.Target?.Id;
  if (!id) return [];
  return [{ id, port: d.Target?.Port ?? 0, state: d.TargetHealth?.State ?? 'unknown', reason: d.TargetHealth?.Reason }];
}
