import { describe, expect, it } from 'vitest';
import { createLogger } from '../observability/logger.js';
import { ActionContext } from './actionContext.js';
import type { NodeInfo } from './ports.js';

describe('an action\'s logger', () => {
  it('puts the Node and the phase on every line once they are known, without each call naming them', () => {
    const lines: string[] = [];
    const root = createLogger({ level: 'info', format: 'json', write: (l) => lines.push(l) });
    const action = { autoScalingGroupName: 'nodes-a', lifecycleHookName: 'hook', instanceId: 'i-0abc', lifecycleActionToken: 't', requestId: 'r-1', messageTime: undefined, format: 'autoscaling' as const };
    const ctx = new ActionContext({ action, receiveCount: 1, firstReceivedAtMs: 0, sentAtMs: undefined, record: undefined },
      root.child(action.instanceId, { instanceId: action.instanceId, requestId: action.requestId, asg: action.autoScalingGroupName }),
      new AbortController().signal, () => {});
    ctx.log.info('received termination event');
    ctx.node = { name: 'ip-10-0-0-1.ec2.internal' } as NodeInfo;
    ctx.phase = 'draining';
    ctx.log.warn('drain attempt failed');
    ctx.dispose();
    expect(lines.map((l) => JSON.parse(l) as Record<string, unknown>).map(({ msg, instanceId, requestId, asg, node, phase }) => ({ msg, instanceId, requestId, asg, node, phase }))).toEqual([
      { msg: 'received termination event', instanceId: 'i-0abc', requestId: 'r-1', asg: 'nodes-a', node: undefined, phase: undefined },
      { msg: 'drain attempt failed', instanceId: 'i-0abc', requestId: 'r-1', asg: 'nodes-a', node: 'ip-10-0-0-1.ec2.internal', phase: 'draining' },
    ]);
  });
});
