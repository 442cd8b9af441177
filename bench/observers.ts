import { readFileSync } from 'node:fs';
import { DescribeTargetHealthCommand, type ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import * as k8s from '@kubernetes/client-node';
import type { LifecycleActionRecord } from '../test/harness/moto.js';
import { counterSamples } from './figures.js';

/** What the emulator recorded of one lifecycle action, accumulated over polls. */
export interface ObservedAction {
  readonly instanceId: string;
  readonly startedAtMs: number;
  readonly heartbeatTimeoutSeconds: number;
  /** Every distinct `lastHeartbeatAt` seen, i.e. the time of each heartbeat the polls caught. */
  readonly heartbeatsAtMs: Set<number>;
  heartbeats: number;
  /** Heartbeats that happened between two polls without being seen on their own (count jumped by more than 1). */
  unseenHeartbeats: number;
  result: string | null;
  resultSource: string | null;
  completedAtMs: number | undefined;
}

/**
 * Polls the emulator's `GET /_lifecycle/actions` (test/aws/README.md) for one Auto Scaling group. Each heartbeat
 * moves `lastHeartbeatAt` to its own time, so a poll interval shorter than the heartbeat interval sees every one.
 */
export class ActionPoller {
  readonly actions = new Map<string, ObservedAction>();
  private running = true;
  private readonly loop: Promise<void>;

  constructor(private readonly endpoint: string, private readonly autoScalingGroupName: string, everyMs: number) {
    this.loop = (async () => {
      while (this.running) {
        await this.pollOnce().catch(() => undefined);
        await new Promise((r) => setTimeout(r, everyMs));
      }
    })();
  }

  async pollOnce(): Promise<void> {
    const res = await fetch(`${this.endpoint}/_lifecycle/actions`, { signal: AbortSignal.timeout(30_000) });
    if (!res.ok) throw new Error(`/_lifecycle/actions answered ${res.status}`);
    const all = ((await res.json()) as { actions: Array<LifecycleActionRecord & { heartbeatTimeout: number; lastHeartbeatAt: string | null }> }).actions;
    for (const a of all) {
      if (a.autoScalingGroupName !== this.autoScalingGroupName) continue;
      let seen = this.actions.get(a.instanceId);
      if (!seen) {
        seen = {
          instanceId: a.instanceId, startedAtMs: Date.parse(a.startedAt!), heartbeatTimeoutSeconds: a.heartbeatTimeout,
          heartbeatsAtMs: new Set(), heartbeats: 0, unseenHeartbeats: 0, result: null, resultSource: null, completedAtMs: undefined,
        };
        this.actions.set(a.instanceId, seen);
      }
      if (a.heartbeats > seen.heartbeats) {
        seen.unseenHeartbeats += a.heartbeats - seen.heartbeats - 1;
        seen.heartbeats = a.heartbeats;
        if (a.lastHeartbeatAt) seen.heartbeatsAtMs.add(Date.parse(a.lastHeartbeatAt));
      }
      seen.result = a.result;
      seen.resultSource = a.resultSource;
      seen.completedAtMs = a.completedAt ? Date.parse(a.completedAt) : undefined;
    }
  }

  get ended(): number {
    return [...this.actions.values()].filter((a) => a.resultSource !== null).length;
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
    await this.pollOnce().catch(() => undefined);
  }
}

/** Watches pods (as admin) and records, per node, how many were deleted and when the last one went. */
export class PodDeletionWatch {
  readonly deleted = new Map<string, { count: number; lastAtMs: number }>();
  private abort: AbortController | undefined;

  constructor(private readonly kc: k8s.KubeConfig, private readonly nodeNames: ReadonlySet<string>) {}

  async start(): Promise<void> {
    this.abort = await new k8s.Watch(this.kc).watch('/api/v1/pods', {}, (type, pod: k8s.V1Pod) => {
      const node = pod.spec?.nodeName;
      if (type !== 'DELETED' || !node || !this.nodeNames.has(node)) return;
      const entry = this.deleted.get(node) ?? { count: 0, lastAtMs: 0 };
      entry.count++;
      entry.lastAtMs = Date.now();
      this.deleted.set(node, entry);
    }, () => undefined);
  }

  stop(): void {
    this.abort?.abort();
  }
}

/**
 * Polls one target's state in one target group (DescribeTargetHealth filtered to it) every `everyMs`, recording
 * when it was first seen `draining` and when it was first seen out of `draining` after that.
 */
export class TargetStatePoll {
  firstDrainingAtMs: number | undefined;
  leftDrainingAtMs: number | undefined;
  private running = true;
  private readonly loop: Promise<void>;

  constructor(elbv2: ElasticLoadBalancingV2Client, arn: string, target: { id: string; port: number }, everyMs: number) {
    this.loop = (async () => {
      while (this.running && this.leftDrainingAtMs === undefined) {
        const out = await elbv2.send(new DescribeTargetHealthCommand({ TargetGroupArn: arn, Targets: [{ Id: target.id, Port: target.port }] }))
          .catch(() => undefined);
        const state = out?.TargetHealthDescriptions?.[0]?.TargetHealth?.State;
        const at = Date.now();
        if (state === 'draining') this.firstDrainingAtMs ??= at;
        else if (state && this.firstDrainingAtMs !== undefined) this.leftDrainingAtMs = at;
        await new Promise((r) => setTimeout(r, everyMs));
      }
    })();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }
}

const CLOCK_TICKS_PER_SECOND = 100; // USER_HZ on Linux (getconf CLK_TCK)

/** User + system CPU seconds the process has used so far (/proc/<pid>/stat fields 14 and 15). */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
}

/** The process's peak resident set size so far (VmHWM in /proc/<pid>/status), in MiB. */
export function peakRssMib(pid: number): number {
  return statusMib(pid, 'VmHWM');
}

/** The process's resident set size now (VmRSS in /proc/<pid>/status), in MiB. */
export function rssMib(pid: number): number {
  return statusMib(pid, 'VmRSS');
}

function statusMib(pid: number, field: 'VmHWM' | 'VmRSS'): number {
  const m = new RegExp(`^${field}:\\s+(\\d+)\\s+kB$`, 'mu').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no ${field} in /proc/${pid}/status`);
  return Math.round((Number(m[1]) / 1024) * 10) / 10;
}

const AWS_CALLS = 'lifecycle_manager_aws_api_calls_total';

/** Elastic Load Balancing calls (v2 and classic) the service has counted so far, from its /metrics text. */
export function elbCalls(metricsText: string): number {
  let total = 0;
  for (const [key, value] of counterSamples(metricsText, AWS_CALLS, ['service'])) if (key.startsWith('elasticloadbalancing')) total += value;
  return total;
}

/** Scrapes the service's metrics every `everyMs` and keeps (time, ELB calls so far). */
export class MetricSampler {
  readonly samples: Array<{ atMs: number; elbCalls: number }> = [];
  private readonly timer: NodeJS.Timeout;
  private pending: Promise<void> = Promise.resolve();

  constructor(private readonly scrape: () => Promise<string>, everyMs: number) {
    const sample = (): void => {
      this.pending = this.scrape().then((text) => { this.samples.push({ atMs: Date.now(), elbCalls: elbCalls(text) }); }, () => undefined);
    };
    sample();
    this.timer = setInterval(sample, everyMs);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.pending;
  }
}

/** Calls per minute between the samples nearest to `fromMs` and `toMs` (null when either is missing). */
export function steadyRate(samples: ReadonlyArray<{ atMs: number; elbCalls: number }>, fromMs: number | undefined, toMs: number | undefined): number | null {
  if (fromMs === undefined || toMs === undefined || samples.length < 2) return null;
  const nearest = (t: number) => samples.reduce((best, s) => (Math.abs(s.atMs - t) < Math.abs(best.atMs - t) ? s : best));
  const a = nearest(fromMs);
  const b = nearest(toMs);
  if (b.atMs <= a.atMs) return null;
  return Math.round(((b.elbCalls - a.elbCalls) / ((b.atMs - a.atMs) / 60_000)) * 10) / 10;
}

/** How long the service's region index took to build, from its own log line (`… in 12.3s`). */
export function indexBuildSeconds(logFile: string): number {
  for (const line of readFileSync(logFile, 'utf8').split('\n')) {
    const m = /load-balancer index built: .* in ([\d.]+)s/u.exec(line);
    if (m) return Number(m[1]);
  }
  return Number.NaN;
}
