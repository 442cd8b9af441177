/**
 * `npm run bench [-- --scenario S1|S2|S3|all]`: runs the scenarios of bench/README.md on the real harness, prints
 * one JSON object per scenario on stdout and a short table on stderr, and exits non-zero naming every figure that
 * exceeded its budget. Each scenario runs in its own child process on its own harness, so one scenario's leftovers
 * (or a hang) cannot affect the next; a child that outlives its bound is killed with its whole process group.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { runScenario } from './runScenario.js';
import { SCENARIOS, SCENARIO_NAMES, type ScenarioName, type ScenarioReport, independenceCheck, resultsCheck } from './scenarios.js';
import { summaryTable } from './summary.js';

const EXIT_BUDGET = 1;
const EXIT_ERROR = 2;
const USAGE = `usage: npm run bench -- [--scenario ${SCENARIO_NAMES.join('|')}|all]`;

function parseArgs(argv: readonly string[]): { scenarios: ScenarioName[]; child: boolean } {
  let scenario = 'all';
  let child = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--scenario') scenario = argv[++i] ?? '';
    else if (a.startsWith('--scenario=')) scenario = a.slice('--scenario='.length);
    else if (a === '--child') child = true;
    else throw new UsageError(`unknown argument ${a}`);
  }
  if (scenario === 'all') return { scenarios: [...SCENARIO_NAMES], child };
  if (!(SCENARIO_NAMES as readonly string[]).includes(scenario)) throw new UsageError(`--scenario must be ${SCENARIO_NAMES.join(', ')} or all, not "${scenario}"`);
  // S5's budget on ELB calls per minute compares it with S5b: one does not run without the other.
  if (!child && scenario === 'S5') return { scenarios: ['S5', 'S5b'], child };
  return { scenarios: [scenario as ScenarioName], child };
}

class UsageError extends Error {}

/** Runs one scenario in this process: JSON on stdout, table on stderr; exit code 1 when a budget is exceeded. */
async function runChild(name: ScenarioName): Promise<number> {
  const spec = SCENARIOS[name];
  const guard = setTimeout(() => {
    process.stderr.write(`bench: ${name} did not finish within ${spec.timeoutMs / 60_000} min; giving up\n`);
    process.exit(EXIT_ERROR); // the harness's exit hook kills every process group it started
  }, spec.timeoutMs + 60_000);
  guard.unref();
  const { report, side, workDir } = await runScenario(spec);
  const checks = [resultsCheck(report), ...spec.budgets(report, side)];
  process.stdout.write(`${JSON.stringify(report)}\n`);
  process.stderr.write(`${summaryTable(spec, report, checks)}\n   (logs: ${workDir})\n`);
  const exceeded = checks.filter((c) => !c.ok);
  for (const c of exceeded) process.stderr.write(`bench: ${name}: ${c.figure} = ${c.value ?? 'not measured'}, budget ${c.limit}\n`);
  return exceeded.length > 0 ? EXIT_BUDGET : 0;
}

/**
 * Runs each scenario as `node bench/main.js --child --scenario X`, one after the other, bounded; passes their JSON
 * through and, once S5 and S5b both ran, checks the budget that compares them.
 */
async function runAll(names: readonly ScenarioName[]): Promise<number> {
  const self = fileURLToPath(import.meta.url);
  const failed: string[] = [];
  const reports = new Map<string, ScenarioReport>();
  let code = 0;
  for (const name of names) {
    const child: ChildProcess = spawn(process.execPath, [self, '--child', '--scenario', name], {
      stdio: ['inherit', 'pipe', 'inherit'], detached: true, env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    });
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => { out += chunk.toString('utf8'); process.stdout.write(chunk); });
    const killGroup = (): void => { try { process.kill(-child.pid!, 'SIGKILL'); } catch { /* gone */ } };
    process.once('exit', killGroup);
    const timer = setTimeout(killGroup, SCENARIOS[name].timeoutMs + 120_000);
    const exit = await new Promise<number>((resolve) => child.once('exit', (c, signal) => resolve(c ?? (signal ? EXIT_ERROR : 0))));
    clearTimeout(timer);
    process.removeListener('exit', killGroup);
    if (exit !== 0) failed.push(`${name} (${exit === EXIT_BUDGET ? 'budget exceeded' : 'did not complete'})`);
    code = Math.max(code, exit);
    const json = out.trim().split('\n').filter((l) => l.startsWith('{')).at(-1);
    if (json) reports.set(name, JSON.parse(json) as ScenarioReport);
  }
  const s5 = reports.get('S5');
  const s5b = reports.get('S5b');
  if (s5 && s5b) {
    const check = independenceCheck(s5, s5b);
    process.stderr.write(`── S5 vs S5b\n   ${check.figure}  ${check.value ?? 'n/a'}  ${check.limit}  ${check.ok ? 'ok' : 'EXCEEDED'}\n`);
    if (!check.ok) {
      process.stderr.write(`bench: S5: ${check.figure} = ${check.value ?? 'not measured'}, budget ${check.limit}\n`);
      failed.push('S5 vs S5b (budget exceeded)');
      code = Math.max(code, EXIT_BUDGET);
    }
  }
  if (failed.length > 0) process.stderr.write(`bench: failed: ${failed.join(', ')}\n`);
  return code;
}

async function main(): Promise<number> {
  let args: ReturnType<typeof parseArgs>;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    process.stderr.write(`bench: ${e.message}\n${USAGE}\n`);
    return EXIT_ERROR;
  }
  if (args.child) return runChild(args.scenarios[0]!);
  return runAll(args.scenarios);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(EXIT_ERROR));
  main().then((code) => process.exit(code), (e: unknown) => {
    process.stderr.write(`bench: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(EXIT_ERROR);
  });
}
