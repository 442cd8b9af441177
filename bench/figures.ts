/**
 * The bench's arithmetic, kept pure so it is unit-tested: percentiles, per-event ratios, heartbeat lateness,
 * metric deltas and the budgets. Every definition here is the one bench/README.md states.
 */

export interface Percentiles {
  readonly p50: number | null;
  readonly p99: number | null;
}

/** Nearest-rank percentile (the smallest value with at least p % of the values at or below it); null when empty. */
export function percentile(values: readonly number[], p: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1]!;
}

export function percentiles(values: readonly number[]): Percentiles {
  const round = (v: number | null): number | null => (v === null ? null : Math.round(v));
  return { p50: round(percentile(values, 50)), p99: round(percentile(values, 99)) };
}

export function perEvent(total: number, events: number): number {
  return events === 0 ? 0 : Math.round((total / events) * 100) / 100;
}

/**
 * Heartbeat lateness of one lifecycle action, in seconds: the longest stretch during which AWS heard nothing from
 * the service, beyond the heartbeat interval (HeartbeatTimeout / 2). The stretches run between consecutive proofs of
 * life as the emulator recorded them — the action's start, each heartbeat, its completion (or, while it is still
 * pending, `endMs`). Never negative: an action finished within one interval is 0 s late.
 */
export function heartbeatLatenessSeconds(startedAtMs: number, heartbeatsAtMs: readonly number[], endMs: number, heartbeatTimeoutSeconds: number): number {
  const points = [startedAtMs, ...[...heartbeatsAtMs].sort((a, b) => a - b), endMs];
  let longestGapMs = 0;
  for (let i = 1; i < points.length; i++) longestGapMs = Math.max(longestGapMs, points[i]! - points[i - 1]!);
  return Math.max(0, longestGapMs / 1000 - heartbeatTimeoutSeconds / 2);
}

/** Samples of one Prometheus counter, keyed by the values of `labels` joined with `:` (e.g. `sqs:ReceiveMessage`). */
export function counterSamples(text: string, name: string, labels: readonly string[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})?\s+(\S+)/u.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[3] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/gu)].map((x) => [x[1], x[2]]));
    const key = labels.map((l) => have[l] ?? '').join(':');
    out.set(key, (out.get(key) ?? 0) + Number(m[4]));
  }
  return out;
}

/** after − before per key, keeping only keys that moved; keys sorted for stable output. */
export function delta(before: ReadonlyMap<string, number>, after: ReadonlyMap<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const key of [...after.keys()].sort()) {
    const d = after.get(key)! - (before.get(key) ?? 0);
    if (d !== 0) out[key] = d;
  }
  return out;
}

export function sum(values: Record<string, number>, skip: (key: string) => boolean = () => false): number {
  return Object.entries(values).reduce((acc, [k, v]) => (skip(k) ? acc : acc + v), 0);
}

/** One figure checked against its budget; `value` null means it could not be measured, which fails the budget. */
export interface BudgetCheck {
  readonly figure: string;
  readonly value: number | null;
  readonly limit: string;
  readonly ok: boolean;
}

export function atMost(figure: string, value: number | null, limit: number): BudgetCheck {
  return { figure, value, limit: `<= ${limit}`, ok: value !== null && value <= limit };
}

export function below(figure: string, value: number | null, limit: number): BudgetCheck {
  return { figure, value, limit: `< ${limit}`, ok: value !== null && value < limit };
}
