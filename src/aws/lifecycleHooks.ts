import {
  type AutoScalingClient,
  DeleteLifecycleHookCommand,
  DescribeAutoScalingGroupsCommand,
  DescribeLifecycleHooksCommand,
  DescribeTagsCommand,
  PutLifecycleHookCommand,
} from '@aws-sdk/client-auto-scaling';
import type { HookState, LifecycleHooks, PutHookOutcome, PutHookRequest, Tags } from '../enrollment/ports.js';
import { toAdminError } from './adminErrors.js';
import { awsErrorName } from './errors.js';
import { toLifecycleHook } from './lifecycleHookShape.js';

type AutoScaling = Pick<AutoScalingClient, 'send'>;

/** DescribeAutoScalingGroups takes at most this many names per call. */
const NAMES_PER_CALL = 50;
/** AWS's answer when its test notification cannot be published with the given target and role. */
const TARGET_UNREACHABLE = /unable to publish test message|assume (the )?role/iu;

/** The Auto Scaling group and lifecycle hook operations enroll, unenroll and doctor use. */
export class AwsLifecycleHooks implements LifecycleHooks {
  constructor(private readonly client: AutoScaling) {}

  async existingGroups(names: readonly string[], signal: AbortSignal): Promise<Set<string>> {
    const found = new Set<string>();
    for (let i = 0; i < names.length; i += NAMES_PER_CALL) {
      for (const name of await this.groupNames(names.slice(i, i + NAMES_PER_CALL), signal)) found.add(name);
    }
    return found;
  }

  allGroups(signal: AbortSignal): Promise<string[]> {
    return this.groupNames(undefined, signal);
  }

  async groupTags(names: readonly string[], signal: AbortSignal): Promise<Map<string, Tags>> {
    const tags = new Map<string, Record<string, string>>();
    try {
      for (let i = 0; i < names.length; i += NAMES_PER_CALL) {
        let token: string | undefined;
        do {
          const out = await this.client.send(new DescribeTagsCommand({ Filters: [{ Name: 'auto-scaling-group', Values: names.slice(i, i + NAMES_PER_CALL) }], NextToken: token }), { abortSignal: signal });
          for (const t of out.Tags ?? []) {
            if (!t.ResourceId || !t.Key) continue;
            const group = tags.get(t.ResourceId) ?? {};
            group[t.Key] = t.Value ?? '';
            tags.set(t.ResourceId, group);
          }
          token = out.NextToken;
        } while (token);
      }
      return tags;
    } catch (e) {
      throw toAdminError(e, 'autoscaling:DescribeTags');
    }
  }

  async describeHooks(autoScalingGroupName: string, lifecycleHookName: string | undefined, signal: AbortSignal): Promise<HookState[]> {
    try {
      const out = await this.client.send(new DescribeLifecycleHooksCommand({
        AutoScalingGroupName: autoScalingGroupName, ...(lifecycleHookName ? { LifecycleHookNames: [lifecycleHookName] } : {}),
      }), { abortSignal: signal });
      return (out.LifecycleHooks ?? []).filter((h) => !lifecycleHookName || h.LifecycleHookName === lifecycleHookName).map((h) => ({
        ...toLifecycleHook(autoScalingGroupName, h),
        notificationTargetArn: h.NotificationTargetARN,
        roleArn: h.RoleARN,
      }));
    } catch (e) {
      // A group that does not exist answers ValidationError: it certainly has no hooks.
      if (awsErrorName(e) === 'ValidationError') return [];
      throw toAdminError(e, 'autoscaling:DescribeLifecycleHooks');
    }
  }

  async putHook(request: PutHookRequest, signal: AbortSignal): Promise<PutHookOutcome> {
    try {
      await this.client.send(new PutLifecycleHookCommand({
        AutoScalingGroupName: request.autoScalingGroupName,
        LifecycleHookName: request.lifecycleHookName,
        LifecycleTransition: request.lifecycleTransition,
        HeartbeatTimeout: request.heartbeatTimeoutSeconds,
        DefaultResult: request.defaultResult,
        NotificationTargetARN: request.notificationTargetArn,
        RoleARN: request.roleArn,
      }), { abortSignal: signal });
      return { kind: 'put' };
    } catch (e) {
      const message = (e as Error).message ?? '';
      if (awsErrorName(e) === 'ValidationError' && TARGET_UNREACHABLE.test(message)) return { kind: 'target-unreachable', detail: message.split('\n')[0] ?? '' };
      throw toAdminError(e, 'autoscaling:PutLifecycleHook');
    }
  }

  async deleteHook(autoScalingGroupName: string, lifecycleHookName: string, signal: AbortSignal): Promise<'deleted' | 'gone'> {
    if ((await this.describeHooks(autoScalingGroupName, lifecycleHookName, signal)).length === 0) return 'gone';
    try {
      await this.client.send(new DeleteLifecycleHookCommand({ AutoScalingGroupName: autoScalingGroupName, LifecycleHookName: lifecycleHookName }), { abortSignal: signal });
      return 'deleted';
    } catch (e) {
      if (awsErrorName(e) === 'ValidationError' && /not found|does not exist/iu.test((e as Error).message ?? '')) return 'gone';
      throw toAdminError(e, 'autoscaling:DeleteLifecycleHook');
    }
  }

  private async groupNames(names: readonly string[] | undefined, signal: AbortSignal): Promise<string[]> {
    const found: string[] = [];
    let token: string | undefined;
    try {
      do {
        const page = await this.client.send(new DescribeAutoScalingGroupsCommand({
          ...(names ? { AutoScalingGroupNames: [...names] } : {}), MaxRecords: 100, NextToken: token,
        }), { abortSignal: signal });
        found.push(...(page.AutoScalingGroups ?? []).flatMap((g) => (g.AutoScalingGroupName ? [g.AutoScalingGroupName] : [])));
        token = page.NextToken;
      } while (token);
      return found;
    } catch (e) {
      throw toAdminError(e, 'autoscaling:DescribeAutoScalingGroups');
    }
  }
}
