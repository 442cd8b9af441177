import { describe, expect, it } from 'vitest';
import type { LifecycleAction } from '../lifecycle/action.js';
import { AwsAutoScaling } from './autoScaling.js';

const action: LifecycleAction = { autoScalingGroupName: 'g', lifecycleHookName: 'h', instanceId: 'i-0123456789abcdef0', lifecycleActionToken: 't', requestId: 'r', messageTime: undefined, format: 'autoscaling' };

/** Records the commands sent through it; a `hold` keeps every call waiting, as a connection pool full of slow calls would. */
function client(hold = false) {
  const sent: string[] = [];
  return {
    sent,
    send: async (command: object): Promise<never> => {
      sent.push(command.constructor.name);
      if (hold) await new Promise(() => {});
      return { AutoScalingInstances: [], LifecycleHooks: [] } as never;
    },
  };
}

describe('AwsAutoScaling', () => {
  it('sends heartbeats through their own client, which other calls stuck in the main one do not hold up', async () => {
    const main = client(true);
    const heartbeats = client();
    const asg = new AwsAutoScaling(main, 1, heartbeats);
    void asg.describeInstance(action.instanceId, new AbortController().signal);
    void asg.completeAction(action, 'CONTINUE', new AbortController().signal);
    await asg.recordHeartbeat(action, new AbortController().signal);
    expect(heartbeats.sent).toEqual(['RecordLifecycleActionHeartbeatCommand']);
    await new Promise((r) => setTimeout(r, 5));
    expect(main.sent.sort()).toEqual(['CompleteLifecycleActionCommand', 'DescribeAutoScalingInstancesCommand']);
  });
});
