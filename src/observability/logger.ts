/**
 * Logging. Text format looks like upstream's logrus lines (`time="…" level=info msg="…"`, per-action lines prefixed
 * `<instance-id>> `) followed by the line's fields as `key=value`; JSON format is one object per line with the same
 * facts as fields. Either way the fields aggregators filter on are fields, not words inside `msg`: `instanceId`,
 * `requestId`, `asg`, `node`, `phase` (set once on an action's logger) and `error` (`{name, message}`; in text
 * `error.name=… error.message=…`). Messages never contain whole SQS bodies or lifecycle action tokens at info level.
 */
export type LogLevel = 'debug' | 'info' | 'warning' | 'error';
export type LogFormat = 'text' | 'json';
/**
 * A line's fields. Values are strings, numbers or booleans; an Error (any thrown value under `error`) becomes
 * `{name, message}`; a plain object becomes nested fields (`config.region=…` in text). Undefined values are left out.
 */
export type LogFields = Readonly<Record<string, unknown>>;
/** Fields computed when a line is written (e.g. the phase an action is in now). */
export type LogFieldSource = LogFields | (() => LogFields);

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** A logger whose text lines start with `prefix> ` and whose lines all carry `fields`. */
  child(prefix: string | undefined, fields?: LogFieldSource): Logger;
}

const SEVERITY: Record<LogLevel, number> = { debug: 0, info: 1, warning: 2, error: 3 };

export const LOG_LEVELS = ['debug', 'info', 'warn', 'warning', 'error'] as const;

/** Accepts upstream's names and the common aliases; undefined for anything else. */
export function toLogLevel(value: string): LogLevel | undefined {
  switch (value.toLowerCase()) {
    case 'debug': return 'debug';
    case 'info': return 'info';
    case 'warn': case 'warning': return 'warning';
    case 'error': return 'error';
    default: return undefined;
  }
}

export interface LoggerOptions {
  readonly level: LogLevel;
  readonly format: LogFormat;
  readonly write?: (line: string) => void;
  readonly now?: () => Date;
}

export function createLogger(options: LoggerOptions): Logger {
  const write = options.write ?? ((line: string) => process.stderr.write(`${line}\n`));
  const now = options.now ?? (() => new Date());
  const min = SEVERITY[options.level];

  const make = (prefix: string, sources: readonly LogFieldSource[]): Logger => {
    const emit = (level: LogLevel, msg: string, fields?: LogFields): void => {
      if (SEVERITY[level] < min) return;
      const all: Record<string, unknown> = {};
      for (const source of sources) Object.assign(all, typeof source === 'function' ? source() : source);
      if (fields) Object.assign(all, fields);
      // The prefix (`i-0abc> `) is for reading text; in JSON the instance is the instanceId field.
      write(formatLine(options.format, now(), level, options.format === 'json' ? msg : prefix + msg, all));
    };
    return {
      debug: (m, f) => emit('debug', m, f),
      info: (m, f) => emit('info', m, f),
      warn: (m, f) => emit('warning', m, f),
      error: (m, f) => emit('error', m, f),
      child: (p, f) => make(p ? `${prefix}${p}> ` : prefix, f ? [...sources, f] : sources),
    };
  };
  return make('', []);
}

/** One log line in `format`; `fatal` is for the last line of a process that cannot go on. */
export function formatLine(format: LogFormat, time: Date, level: LogLevel | 'fatal', msg: string, fields: LogFields = {}): string {
  return format === 'json' ? jsonLine(time, level, msg, fields) : textLine(time, level, msg, fields);
}

function textLine(time: Date, level: string, msg: string, fields: LogFields): string {
  let line = `time="${time.toISOString().replace(/\.\d{3}Z$/u, 'Z')}" level=${level} msg=${quote(msg)}`;
  for (const [k, v] of flatten('', structured(fields))) line += ` ${k}=${quote(v)}`;
  return line;
}

function jsonLine(time: Date, level: string, msg: string, fields: LogFields): string {
  return JSON.stringify({ time: time.toISOString(), level, msg, ...structured(fields) });
}

/** Fields as JSON-ready values: errors as {name, message}, undefined left out. */
function structured(fields: LogFields): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(fields)) {
    if (v === undefined) continue;
    out[k] = k === 'error' || v instanceof Error ? errorFields(v) : v;
  }
  return out;
}

/** `{name, message}` of a thrown value: the error's class name and the first line of its message. */
export function errorFields(e: unknown): { name: string; message: string } {
  if (e instanceof Error) return { name: e.name, message: firstLine(e.message) };
  const o = e as { name?: unknown; message?: unknown } | null;
  if (typeof o?.name === 'string' && typeof o.message === 'string') return { name: o.name, message: firstLine(o.message) };
  return { name: typeof e, message: String(e) };
}

function firstLine(s: string): string {
  return s.split('\n')[0] ?? '';
}

function flatten(prefix: string, value: unknown): [string, string][] {
  if (value === null || typeof value !== 'object') return prefix ? [[prefix, String(value)]] : [];
  if (Array.isArray(value)) return [[prefix, value.map(String).join(',')]];
  return Object.entries(value).flatMap(([k, v]) => (v === undefined ? [] : flatten(prefix ? `${prefix}.${k}` : k, v)));
}

function quote(s: string): string {
  return /^[A-Za-z0-9_./:@-]+$/u.test(s) ? s : JSON.stringify(s);
}

/** A logger that drops everything (unit tests). */
export const silentLogger: Logger = {
  debug: () => {}, info: () => {}, warn: () => {}, error: () => {}, child: () => silentLogger,
};
