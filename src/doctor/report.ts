import type { CheckResult, CheckStatus } from './checks.js';

const MARK: Record<CheckStatus, string> = { pass: '✓', fail: '✗', skip: '–' };

/** The checks as a table: one row each, a `fix:` line under each failure, then a one-line summary. */
export function renderReport(results: readonly CheckResult[]): string[] {
  const width = Math.min(48, Math.max(5, ...results.map((r) => r.check.length)));
  const lines = [`   ${'CHECK'.padEnd(width)}  RESULT`];
  for (const r of results) {
    lines.push(`${MARK[r.status]}  ${r.check.padEnd(width)}  ${r.detail}`);
    if (r.status === 'fail' && r.fix) lines.push(`   ${''.padEnd(width)}  fix: ${r.fix}`);
  }
  lines.push(summarize(results));
  return lines;
}

export function summarize(results: readonly CheckResult[]): string {
  const count = (s: CheckStatus): number => results.filter((r) => r.status === s).length;
  const skipped = count('skip');
  return `${results.length} checks: ${count('pass')} passed, ${count('fail')} failed${skipped > 0 ? `, ${skipped} skipped` : ''}`;
}

/** The checks as one JSON-ready object (doctor --output json): every check with its status, detail and fix, and the counts. */
export function jsonReport(results: readonly CheckResult[]): { ok: boolean; summary: Record<string, number>; checks: object[] } {
  const count = (s: CheckStatus): number => results.filter((r) => r.status === s).length;
  return {
    ok: count('fail') === 0,
    summary: { checks: results.length, passed: count('pass'), failed: count('fail'), skipped: count('skip') },
    checks: results.map((r) => ({ check: r.check, status: r.status, detail: r.detail, ...(r.fix ? { fix: r.fix } : {}) })),
  };
}
