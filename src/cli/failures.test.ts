import { CommanderError } from 'commander';
import { describe, expect, it } from 'vitest';
import { ConfigError, QueueNotFoundError, TransientError } from '../lifecycle/errors.js';
import { StartupError, fromCommanderError, jsonLogsRequested, reportFailure } from './failures.js';

function report(e: unknown, format: 'text' | 'json'): { code: number; lines: string[] } {
  let out = '';
  const code = reportFailure(e, format, (t) => { out += t; });
  return { code, lines: out.split('\n').filter(Boolean) };
}

describe('reportFailure', () => {
  it('prints a usage error as one line and a hint to --help, exit code 2', () => {
    const usage = fromCommanderError(new CommanderError(1, 'commander.unknownOption', "error: unknown option '--drain-timout'\n(Did you mean --drain-timeout?)"), "Run 'lifecycle-manager serve --help' for usage.");
    expect(report(usage, 'text')).toEqual({ code: 2, lines: [
      "lifecycle-manager: unknown option '--drain-timout' (did you mean --drain-timeout?)",
      "Run 'lifecycle-manager serve --help' for usage.",
    ] });
  });

  it('prints each value problem on its own line, exit code 1', () => {
    expect(report(new ConfigError(['--drain-timeout must be a whole number, got "x"', 'must provide valid SQS queue name (--queue-name)']), 'text')).toEqual({ code: 1, lines: [
      'lifecycle-manager: --drain-timeout must be a whole number, got "x"',
      'lifecycle-manager: must provide valid SQS queue name (--queue-name)',
    ] });
  });

  it('prints an expected startup failure as one line without a stack trace', () => {
    for (const e of [
      new StartupError('cannot reach SQS queue q in us-west-2: sqs:GetQueueUrl: connect ECONNREFUSED 127.0.0.1:1'),
      new QueueNotFoundError('q', 'us-west-2'),
      new TransientError('sqs:GetQueueUrl: ServiceUnavailable', false),
    ]) {
      const { code, lines } = report(e, 'text');
      expect(code).toBe(1);
      expect(lines).toEqual([`lifecycle-manager: ${e.message}`]);
    }
  });

  it('gives the unexpected their stack trace', () => {
    const { code, lines } = report(new RangeError('bug'), 'text');
    expect(code).toBe(1);
    expect(lines[0]).toBe('lifecycle-manager: unexpected error: bug');
    expect(lines[1]).toMatch(/^\s+at /u);
  });

  it('writes nothing but JSON lines in JSON mode, the stack as a field', () => {
    for (const e of [new ConfigError(['a', 'b']), new StartupError('cannot start'), new RangeError('bug'), fromCommanderError(new CommanderError(1, 'commander.unknownOption', "error: unknown option '--x'"), 'hint')]) {
      const { lines } = report(e, 'json');
      expect(lines.length).toBeGreaterThan(0);
      for (const line of lines) expect(JSON.parse(line)).toMatchObject({ level: 'fatal', msg: expect.any(String) as string });
    }
    const [bug] = report(new RangeError('bug'), 'json').lines;
    expect(JSON.parse(bug!)).toMatchObject({ msg: 'unexpected error: bug', error: { name: 'RangeError', message: 'bug' }, stack: expect.stringContaining('RangeError: bug') as string });
  });
});

describe('jsonLogsRequested', () => {
  it('sees serve\'s --log-format json as a flag or in the environment', () => {
    expect(jsonLogsRequested(['node', 'lm', 'serve', '--log-format', 'json'], {})).toBe(true);
    expect(jsonLogsRequested(['node', 'lm', 'serve', '--log-format=json'], {})).toBe(true);
    expect(jsonLogsRequested(['node', 'lm', 'serve'], { LIFECYCLE_MANAGER_LOG_FORMAT: 'json' })).toBe(true);
    expect(jsonLogsRequested(['node', 'lm', 'serve', '--log-format=text'], { LIFECYCLE_MANAGER_LOG_FORMAT: 'json' })).toBe(false);
    expect(jsonLogsRequested(['node', 'lm', 'enroll', '--log-format=json'], {})).toBe(false);
  });
});
