import { describeError } from '../lifecycle/errors.js';
import type { FailureClass } from '../lifecycle/step.js';
import type { Logger } from '../observability/logger.js';
import type { CallBudget } from './callBudget.js';
import { FreshLoad } from './freshLoad.js';
import { type GroupContent, GroupReadError, INDEXED_TARGET_TYPES, readTargetGroup } from './groupReader.js';
import { type ClassicLoadBalancersPort, type TargetGroupSummary, type TargetGroupsPort, type TargetHealth, targetGroupName } from './ports.js';

/** One target group's targets as of one read. */
export interface IndexedGroup {
  readonly summary: TargetGroupSummary;
  readonly targets: readonly TargetHealth[];
  /** When the request that read them was sent. */
  readonly readAtMs: number;
}

export type GroupRead =
  | { readonly kind: 'read'; readonly group: IndexedGroup }
  | { readonly kind: 'gone' }
  | { readonly kind: 'failed'; readonly name: string; readonly what: string; readonly failureClass: FailureClass };

/** Instance id → the classic load balancers listing it. */
export type ClassicIndex = ReadonlyMap<string, readonly string[]>;

/** Group attributes the index reads ahead for the groups events will leave (TargetGroupOperations caches them). */
export interface AttributesCache {
  /** When the cached attributes should be read again; undefined when they were never read. */
  dueAtMs(arn: string): number | undefined;
  read(arn: string, signal: AbortSignal): Promise<unknown>;
}

export interface RegionIndexDeps {
  readonly targetGroups: TargetGroupsPort | undefined;
  readonly classic: ClassicLoadBalancersPort | undefined;
  readonly budget: CallBudget;
  readonly log: Logger;
  /** Whether the whole region is indexed (scan modes) or only the groups named to it (targeted). */
  readonly wholeRegion: boolean;
  /** An entry older than this is due to be read again in the background. */
  readonly refreshAfterMs: number;
  /** Background reads per second, all kinds together: the index's steady cost, whatever the size of the region. */
  readonly backgroundRatePerSecond: number;
  /** Bound on one group's read (its retries included) and on a listing. */
  readonly groupReadTimeoutMs: number;
  readonly listTimeoutMs: number;
  /** Reads in flight at once while the index is built. */
  readonly concurrency: number;
  /** Whether a target id is one of this cluster's instances: the attributes of a group holding one are read ahead. */
  readonly isClusterTarget: (id: string) => boolean;
  readonly attributes: AttributesCache | undefined;
  /** ARNs the cluster's TargetGroupBindings name now: refreshed first, their attributes read ahead. */
  readonly boundArns?: () => Iterable<string>;
}

/** One entry as the background maintenance sees it. */
export interface EntryState {
  readonly arn: string;
  readonly summary: TargetGroupSummary | undefined;
  readonly good: IndexedGroup | undefined;
  readonly lastSentAtMs: number | undefined;
  readonly failedAtMs: number | undefined;
  readonly targeted: boolean;
}

interface Slot {
  summary: TargetGroupSummary | undefined;
  readonly load: FreshLoad<GroupContent>;
  /** The targets of the last good read, kept while later reads fail. */
  good: IndexedGroup | undefined;
  failure: { readonly what: string; readonly failureClass: FailureClass; readonly atMs: number } | undefined;
  /** Named by a binding or an Auto Scaling group of this cluster: refreshed first. */
  targeted: boolean;
  readonly createdAtMs: number;
}

/**
 * The load balancers of the region, indexed once and kept in the background instead of being scanned per event:
 * every instance and ip target group's targets (one DescribeTargetHealth each), the classic load balancers with
 * their instances (DescribeLoadBalancers), target id → the groups holding it. Reads are single-flight per group
 * and shared by every event; an event asks for entries read after its Node existed and only waits for those it
 * still needs. After the first build (IndexMaintenance) entries older than `refreshAfterMs` are read again at a fixed background
 * rate, groups of the cluster (bindings, Auto Scaling groups) first, so its steady cost does not grow with the
 * number of target groups in the region — a bigger region only means older entries for the groups nobody named.
 * A group that fails keeps its last good read and fails alone; it is read again, and only an event that needs it
 * waits for that.
 */
export class RegionIndex {
  private readonly slots = new Map<string, Slot>();
  private readonly holders = new Map<string, Set<string>>();
  private readonly list: FreshLoad<void>;
  private readonly classicList: FreshLoad<ClassicIndex>;

  constructor(readonly deps: RegionIndexDeps) {
    this.list = new FreshLoad((sent, s) => this.loadList(sent, s), deps.listTimeoutMs);
    this.classicList = new FreshLoad((sent, s) => this.loadClassic(sent, s), deps.listTimeoutMs);
  }

  summary(arn: string): TargetGroupSummary | undefined {
    return this.slots.get(arn)?.summary;
  }

  summaryByName(name: string): TargetGroupSummary | undefined {
    for (const slot of this.slots.values()) if (slot.summary?.name === name) return slot.summary;
    return undefined;
  }

  /** Looks a group up by name (a binding's spec.targetGroupName the listing has not seen); its ARN, or undefined. */
  async lookUpByName(name: string, signal: AbortSignal): Promise<string | undefined> {
    const port = this.deps.targetGroups;
    if (!port) return undefined;
    const found = await this.deps.budget.run('DescribeTargetGroups', signal, () => port.describeTargetGroup({ name }, signal));
    if (found) this.slot(found.arn).summary = found;
    return found?.arn;
  }

  /** Marks the cluster's groups (bindings, Auto Scaling groups): read first, and their attributes read ahead. */
  markTargeted(arns: Iterable<string>): void {
    for (const arn of arns) this.slot(arn).targeted = true;
  }

  /** The group list, as read by a request sent at or after `notBeforeMs` (read now if needed). */
  async listed(notBeforeMs: number, signal: AbortSignal): Promise<void> {
    if (!this.deps.targetGroups) return;
    await this.list.get(notBeforeMs, signal);
  }

  listedSince(notBeforeMs: number): boolean {
    return !this.deps.targetGroups || this.list.current(notBeforeMs) !== undefined;
  }

  /**
   * The group's targets as read at or after `notBeforeMs`, read now (single flight) when the index has no such read.
   * `hint` stands in for the group's description until AWS gave one (an Auto Scaling group attaches only instance
   * target groups; a binding's webhook-filled spec names type and VPC), sparing a DescribeTargetGroups.
   */
  async group(arn: string, notBeforeMs: number, signal: AbortSignal, hint?: { readonly targetType: string | undefined; readonly vpcId: string | undefined }): Promise<GroupRead> {
    const slot = this.slot(arn);
    if (!slot.summary && hint?.targetType) slot.summary = { arn, name: targetGroupName(arn), targetType: hint.targetType, vpcId: hint.vpcId };
    const good = this.current(arn, notBeforeMs);
    if (good) return { kind: 'read', group: good };
    try {
      const fresh = await slot.load.get(notBeforeMs, signal);
      return fresh.value.kind === 'gone' ? { kind: 'gone' } : { kind: 'read', group: slot.good! };
    } catch (e) {
      if (e instanceof GroupReadError) return { kind: 'failed', name: e.groupName, what: e.what, failureClass: e.failureClass };
      throw e;
    }
  }

  /** The last good read of the group if it was sent at or after `notBeforeMs`, without any call. */
  current(arn: string, notBeforeMs: number): IndexedGroup | undefined {
    const good = this.slots.get(arn)?.good;
    return good && good.readAtMs >= notBeforeMs ? good : undefined;
  }

  /** Why the group's last read failed, if it did. */
  failure(arn: string): { readonly what: string; readonly failureClass: FailureClass } | undefined {
    return this.slots.get(arn)?.failure;
  }

  /** Listed instance and ip target groups with no good read sent at or after `notBeforeMs`. */
  unread(notBeforeMs: number): string[] {
    return [...this.slots].filter(([arn, s]) => s.summary && INDEXED_TARGET_TYPES.has(s.summary.targetType) && !this.current(arn, notBeforeMs)).map(([arn]) => arn);
  }

  /** The groups whose last good read holds a target with one of these ids. */
  holding(ids: Iterable<string>): Set<string> {
    const arns = new Set<string>();
    for (const id of ids) for (const arn of this.holders.get(id) ?? []) arns.add(arn);
    return arns;
  }

  /** The classic load balancers by instance, as listed at or after `notBeforeMs` (listed now if needed). */
  async classic(notBeforeMs: number, signal: AbortSignal): Promise<ClassicIndex> {
    if (!this.deps.classic) return new Map();
    return (await this.classicList.get(notBeforeMs, signal)).value;
  }

  currentClassic(notBeforeMs: number): ClassicIndex | undefined {
    return this.deps.classic ? this.classicList.current(notBeforeMs)?.value : new Map();
  }

  /** What the background maintenance needs to know of each entry (see IndexMaintenance). */
  *entries(): Iterable<EntryState> {
    for (const [arn, slot] of this.slots) {
      yield { arn, summary: slot.summary, good: slot.good, lastSentAtMs: slot.load.sentAtMs, failedAtMs: slot.failure?.atMs, targeted: slot.targeted };
    }
  }

  /** When the group list and the classic load balancers were last read (undefined: never). */
  get listSentAtMs(): number | undefined {
    return this.list.sentAtMs;
  }

  get classicSentAtMs(): number | undefined {
    return this.classicList.sentAtMs;
  }

  private slot(arn: string): Slot {
    let slot = this.slots.get(arn);
    if (!slot) {
      const created: Slot = {
        summary: undefined, good: undefined, failure: undefined, targeted: false, createdAtMs: Date.now(),
        load: new FreshLoad((sent, s) => this.loadGroup(arn, created, sent, s), this.deps.groupReadTimeoutMs),
      };
      slot = created;
      this.slots.set(arn, slot);
    }
    return slot;
  }

  private async loadGroup(arn: string, slot: Slot, sent: () => void, signal: AbortSignal): Promise<GroupContent> {
    const port = this.deps.targetGroups;
    if (!port) return { kind: 'gone' };
    let sentAtMs = Date.now();
    try {
      const content = await readTargetGroup({ port, budget: this.deps.budget, log: this.deps.log, timeoutMs: this.deps.groupReadTimeoutMs }, arn, slot.summary,
        () => { sentAtMs = Date.now(); sent(); }, signal);
      if (content.kind === 'gone') {
        if (slot.summary || slot.good) this.deps.log.debug(`target group ${slot.summary?.name ?? arn} no longer exists; the index forgets it`);
        // Kept as a tombstone: the next events asking for it (a binding naming a deleted group) need no call.
        this.forgetTargets(arn, slot);
        slot.summary = undefined;
        slot.failure = undefined;
      } else {
        slot.summary = content.summary;
        slot.failure = undefined;
        if (!slot.good || slot.good.readAtMs <= sentAtMs) this.store(arn, slot, { summary: content.summary, targets: content.targets, readAtMs: sentAtMs });
      }
      return content;
    } catch (e) {
      if (e instanceof GroupReadError) slot.failure = { what: e.what, failureClass: e.failureClass, atMs: Date.now() };
      throw e;
    }
  }

  private store(arn: string, slot: Slot, group: IndexedGroup): void {
    for (const t of slot.good?.targets ?? []) this.holders.get(t.id)?.delete(arn);
    slot.good = group;
    for (const t of group.targets) {
      let set = this.holders.get(t.id);
      if (!set) this.holders.set(t.id, set = new Set());
      set.add(arn);
    }
  }

  private forget(arn: string): void {
    const slot = this.slots.get(arn);
    if (slot) this.forgetTargets(arn, slot);
    this.slots.delete(arn);
  }

  private forgetTargets(arn: string, slot: Slot): void {
    for (const t of slot.good?.targets ?? []) {
      const set = this.holders.get(t.id);
      set?.delete(arn);
      if (set?.size === 0) this.holders.delete(t.id);
    }
    slot.good = undefined;
  }

  private async loadList(sent: () => void, signal: AbortSignal): Promise<void> {
    const port = this.deps.targetGroups!;
    const requestedAtMs = Date.now();
    const all = await this.deps.budget.run('DescribeTargetGroups', signal, () => { sent(); return port.listTargetGroups(signal); });
    const seen = new Set<string>();
    for (const g of all) {
      seen.add(g.arn);
      this.slot(g.arn).summary = g;
    }
    // A group missing from the list is gone, unless it was only learnt of (a new binding) after the list was asked for.
    for (const [arn, slot] of this.slots) if (!seen.has(arn) && slot.createdAtMs < requestedAtMs) this.forget(arn);
  }

  private async loadClassic(sent: () => void, signal: AbortSignal): Promise<ClassicIndex> {
    const port = this.deps.classic!;
    const all = await this.deps.budget.run('DescribeLoadBalancers', signal, () => { sent(); return port.listLoadBalancers(signal); });
    const byInstance = new Map<string, string[]>();
    for (const lb of all) for (const id of lb.instanceIds) byInstance.set(id, [...(byInstance.get(id) ?? []), lb.name]);
    return byInstance;
  }
}
