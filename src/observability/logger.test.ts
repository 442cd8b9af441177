import { describe, expect, it } from 'vitest';
import { TransientError } from '../lifecycle/errors.js';
import { createLogger } from './logger.js';

const at = new Date('2026-01-02T03:04:05.678Z');

function capture(format: 'text' | 'json', level: 'debug' | 'info' = 'info') {
  const lines: string[] = [];
  return { lines, log: createLogger({ level, format, now: () => at, write: (l) => lines.push(l) }) };
}

describe('the logger', () => {
  it('keeps upstream\'s text shape and adds the fields after msg, errors as error.name and error.message', () => {
    const { lines, log } = capture('text');
    const action = log.child('i-0abc', { instanceId: 'i-0abc', requestId: 'r-1', asg: 'nodes-a' });
    action.warn('step drain failed (transient): throttled', { error: new TransientError('sqs:ReceiveMessage: Throttling\nsecond line', true) });
    expect(lines).toEqual([
      'time="2026-01-02T03:04:05Z" level=warning msg="i-0abc> step drain failed (transient): throttled" instanceId=i-0abc requestId=r-1 asg=nodes-a error.name=TransientError error.message="sqs:ReceiveMessage: Throttling"',
    ]);
  });

  it('writes one JSON object per line with the same facts as fields, errors as {name, message}', () => {
    const { lines, log } = capture('json');
    log.child('i-0abc', { instanceId: 'i-0abc', node: 'ip-10-0-0-1' }).error('drain failed', { error: new Error('pods left\nmore') });
    expect(lines.map((l) => JSON.parse(l) as unknown)).toEqual([{
      time: '2026-01-02T03:04:05.678Z', level: 'error', msg: 'drain failed', instanceId: 'i-0abc', node: 'ip-10-0-0-1',
      error: { name: 'Error', message: 'pods left' },
    }]);
  });

  it('reads a child\'s computed fields when each line is written (the Node and phase an action reached)', () => {
    const { lines, log } = capture('json');
    const state: { node?: string; phase?: string } = {};
    const action = log.child(undefined, () => ({ node: state.node, phase: state.phase }));
    action.info('received');
    state.node = 'ip-10-0-0-1';
    state.phase = 'draining';
    action.info('draining');
    expect(lines.map((l) => JSON.parse(l) as Record<string, unknown>).map(({ node, phase }) => ({ node, phase }))).toEqual([
      { node: undefined, phase: undefined }, { node: 'ip-10-0-0-1', phase: 'draining' },
    ]);
  });

  it('writes a nested object as one JSON field, and as dotted keys in text (the configuration line)', () => {
    const json = capture('json');
    const text = capture('text');
    for (const { log } of [json, text]) log.info('starting lifecycle-manager service v1.2.3', { config: { region: 'us-west-2', 'drain-timeout': 300, 'with-deregister': true, 'cluster-name': '' } });
    expect(JSON.parse(json.lines[0]!)).toMatchObject({ config: { region: 'us-west-2', 'drain-timeout': 300, 'with-deregister': true, 'cluster-name': '' } });
    expect(text.lines[0]).toBe('time="2026-01-02T03:04:05Z" level=info msg="starting lifecycle-manager service v1.2.3" config.region=us-west-2 config.drain-timeout=300 config.with-deregister=true config.cluster-name=""');
  });

  it('leaves out lines below its level and fields that are undefined', () => {
    const { lines, log } = capture('text');
    log.debug('hidden');
    log.info('shown', { node: undefined });
    expect(lines).toEqual(['time="2026-01-02T03:04:05Z" level=info msg=shown']);
  });
});
