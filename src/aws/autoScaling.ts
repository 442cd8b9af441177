import {
  type AutoScalingClient,
  CompleteLifecycleActionCommand,
  DescribeAutoScalingInstancesCommand,
  DescribeLifecycleHooksCommand,
  RecordLifecycleActionHeartbeatCommand,
} from '@aws-sdk/client-auto-scaling';
import type { AutoScalingInstance, LifecycleAction, LifecycleActionResult, LifecycleHook } from '../lifecycle/action.js';
import { ActionGoneError } from '../lifecycle/errors.js';
import type { AutoScalingPort } from '../lifecycle/ports.js';
import { KeyedBatcher } from './keyedBatcher.js';
import { awsErrorName, toDomainError } from './errors.js';
import { toLifecycleHook } from './lifecycleHookShape.js';

type AutoScaling = Pick<AutoScalingClient, 'send'>;

const HOOK_CACHE_TTL_MS = 5 * 60_000;

export function isNoActiveLifecycleAction(e: unknown): boolean {
  return awsErrorName(e) === 'ValidationError' && /No active Lifecycle Action/iu.test((e as Error).message ?? '');
}

/**
 * The Auto Scaling port. Lifecycle hooks are cached per (group, hook) — their HeartbeatTimeout rarely changes and
 * one burst of terminations would otherwise ask the same question a hundred times. DescribeAutoScalingInstances
 * calls arriving within a short window are merged (up to 50 instance ids per call).
 */
export class AwsAutoScaling implements AutoScalingPort {
  private readonly hooks = new Map<string, { hook: LifecycleHook | undefined; expiresAtMs: number; pending?: Promise<LifecycleHook | undefined> }>();
  private readonly instances: KeyedBatcher<string, AutoScalingInstance>;

  /**
   * `heartbeatClient`: its own client (its own connection pool) for RecordLifecycleActionHeartbeat, so a burst of
   * other Auto Scaling calls queued for a connection cannot hold up the calls that keep hooks alive.
   */
  constructor(private readonly client: AutoScaling, batchWindowMs = 50, private readonly heartbeatClient: AutoScaling = client) {
    this.instances = new KeyedBatcher(50, batchWindowMs, (ids, signal) => this.describeInstances(ids, signal));
  }

  describeInstance(instanceId: string, signal: AbortSignal): Promise<AutoScalingInstance | undefined> {
    return this.instances.get(instanceId, signal);
  }

  async describeLifecycleHook(autoScalingGroupName: string, lifecycleHookName: string, signal: AbortSignal): Promise<LifecycleHook | undefined> {
    const key = `${autoScalingGroupName}/${lifecycleHookName}`;
    const cached = this.hooks.get(key);
    if (cached?.pending) return cached.pending;
    if (cached && cached.expiresAtMs > Date.now()) return cached.hook;
    const pending = this.fetchHook(autoScalingGroupName, lifecycleHookName, signal);
    this.hooks.set(key, { hook: undefined, expiresAtMs: 0, pending });
    try {
      const hook = await pending;
      // Only a found hook is cached: a missing one may be created any moment (enroll running right now).
      this.hooks.set(key, { hook, expiresAtMs: hook ? Date.now() + HOOK_CACHE_TTL_MS : 0 });
      return hook;
    } catch (e) {
      this.hooks.delete(key);
      throw e;
    }
  }

  async recordHeartbeat(action: LifecycleAction, signal: AbortSignal): Promise<void> {
    try {
      await this.heartbeatClient.send(new RecordLifecycleActionHeartbeatCommand({
        AutoScalingGroupName: action.autoScalingGroupName,
        LifecycleHookName: action.lifecycleHookName,
        InstanceId: action.instanceId,
        LifecycleActionToken: action.lifecycleActionToken,
      }), { abortSignal: signal });
    } catch (e) {
      if (isNoActiveLifecycleAction(e)) throw new ActionGoneError(action.instanceId, { cause: e });
      throw toDomainError(e, 'autoscaling:RecordLifecycleActionHeartbeat');
    }
  }

  async completeAction(action: LifecycleAction, result: LifecycleActionResult, signal: AbortSignal): Promise<'completed' | 'gone'> {
    try {
      await this.client.send(new CompleteLifecycleActionCommand({
        AutoScalingGroupName: action.autoScalingGroupName,
        LifecycleHookName: action.lifecycleHookName,
        InstanceId: action.instanceId,
        LifecycleActionToken: action.lifecycleActionToken,
        LifecycleActionResult: result,
      }), { abortSignal: signal });
      return 'completed';
    } catch (e) {
      if (isNoActiveLifecycleAction(e)) return 'gone';
      throw toDomainError(e, 'autoscaling:CompleteLifecycleAction');
    }
  }

  private async fetchHook(group: string, hookName: string, signal: AbortSignal): Promise<LifecycleHook | undefined> {
    try {
      const out = await this.client.send(new DescribeLifecycleHooksCommand({ AutoScalingGroupName: group, LifecycleHookNames: [hookName] }), { abortSignal: signal });
      const h = out.LifecycleHooks?.find((x) => x.LifecycleHookName === hookName);
      return h ? toLifecycleHook(group, h) : undefined;
    } catch (e) {
      // A group that does not exist answers ValidationError "AutoScalingGroup name not found": its hook does not
      // exist either. Any other ValidationError is an error, not a verdict (it must not make us drop the message).
      if (awsErrorName(e) === 'ValidationError' && /not found/iu.test((e as Error).message ?? '')) return undefined;
      throw toDomainError(e, 'autoscaling:DescribeLifecycleHooks');
    }
  }

  private async describeInstances(instanceIds: readonly string[], signal: AbortSignal): Promise<Map<string, AutoScalingInstance>> {
    try {
      const out = await this.client.send(new DescribeAutoScalingInstancesCommand({ InstanceIds: [...instanceIds] }), { abortSignal: signal });
      const found = new Map<string, AutoScalingInstance>();
      for (const i of out.AutoScalingInstances ?? []) {
        if (i.InstanceId && i.AutoScalingGroupName) {
          found.set(i.InstanceId, { instanceId: i.InstanceId, autoScalingGroupName: i.AutoScalingGroupName, lifecycleState: i.LifecycleState ?? 'Unknown' });
        }
      }
      return found;
    } catch (e) {
      throw toDomainError(e, 'autoscaling:DescribeAutoScalingInstances');
    }
  }
}
