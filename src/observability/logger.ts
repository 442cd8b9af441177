/**
 * Logging. Text format looks like upstream's logrus lines (`time="…" level=info msg="…"`), with per-action lines
 * prefixed `<instance-id>> `; JSON format keeps the same facts as fields. Messages never contain whole SQS bodies
 * or lifecycle action tokens at info level.
 */
export type LogLevel = 'debug' | 'info' | 'warning' | 'error';
export type LogFormat = 'text' | 'json';
export type LogFields = Readonly<Record<string, string | number | boolean | undefined>>;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** A logger whose text lines start with `prefix> ` and whose lines all carry `fields`. */
  child(prefix: string | undefined, fields?: LogFields): Logger;
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

  const make = (prefix: string, base: LogFields): Logger => {
    const emit = (level: LogLevel, msg: string, fields?: LogFields): void => {
      if (SEVERITY[level] < min) return;
      const all = fields ? { ...base, ...fields } : base;
      write(options.format === 'json' ? jsonLine(now(), level, msg, all) : textLine(now(), level, prefix + msg, all));
    };
    return {
      debug: (m, f) => emit('debug', m, f),
      info: (m, f) => emit('info', m, f),
      warn: (m, f) => emit('warning', m, f),
      error: (m, f) => emit('error', m, f),
      child: (p, f) => make(p ? `${prefix}${p}> ` : prefix, { ...base, ...f }),
    };
  };
  return make('', {});
}

function textLine(time: Date, level: LogLevel, msg: string, fields: LogFields): string {
  let line = `time="${time.toISOString().replace(/\.\d{3}Z$/u, 'Z')}" level=${level} msg=${quote(msg)}`;
  for (const [k, v] of Object.entries(fields)) {
    if (v !== undefined && k !== 'instanceId') line += ` ${k}=${quote(String(v))}`;
  }
  return line;
}

function jsonLine(time: Date, level: LogLevel, msg: string, fields: LogFields): string {
  const record: Record<string, unknown> = { time: time.toISOString(), level, msg };
  for (const [k, v] of Object.entries(fields)) if (v !== undefined) record[k] = v;
  return JSON.stringify(record);
}

function quote(s: string): string {
  return /^[A-Za-z0-9_./:@-]+$/u.test(s) ? s : JSON.stringify(s);
}

/** A logger that drops everything (unit tests). */
export const silentLogger: Logger = {
  debug: () => {}, info: () => {}, warn: () => {}, error: () => {}, child: () => silentLogger,
};
