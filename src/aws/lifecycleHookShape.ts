import type { LifecycleHook as SdkLifecycleHook } from '@aws-sdk/client-auto-scaling';
import type { LifecycleHook } from '../lifecycle/action.js';

/** AWS's hard limit on a lifecycle action's wait state. */
const MAX_GLOBAL_TIMEOUT_SECONDS = 48 * 3600;

/**
 * A DescribeLifecycleHooks entry in the domain's terms, with AWS's defaults filled in (HeartbeatTimeout 3600,
 * DefaultResult ABANDON) and the global timeout AWS applies: min(48 h, 100 × HeartbeatTimeout).
 */
export function toLifecycleHook(autoScalingGroupName: string, h: SdkLifecycleHook): LifecycleHook {
  const heartbeatTimeoutSeconds = h.HeartbeatTimeout ?? 3600;
  return {
    autoScalingGroupName,
    lifecycleHookName: h.LifecycleHookName ?? '',
    lifecycleTransition: h.LifecycleTransition ?? '',
    heartbeatTimeoutSeconds,
    globalTimeoutSeconds: Math.min(h.GlobalTimeout ?? MAX_GLOBAL_TIMEOUT_SECONDS, 100 * heartbeatTimeoutSeconds, MAX_GLOBAL_TIMEOUT_SECONDS),
    defaultResult: h.DefaultResult ?? 'ABANDON',
  };
}
