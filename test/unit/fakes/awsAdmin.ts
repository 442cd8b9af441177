import type { AwsAdmin, HookState, PutHookOutcome, QueueState, RoleState, Tags } from '../../../src/enrollment/ports.js';
import { RequestRejectedError } from '../../../src/lifecycle/errors.js';

const ACCOUNT = '123456789012';

interface FakeRole { arn: string; trustPolicy: string; attached: Set<string>; tags: Record<string, string> }
interface FakeQueue { url: string; arn: string; attributes: Record<string, string>; tags: Record<string, string> }

/**
 * An in-memory AWS for the enrollment ports: roles, queues, groups and their hooks, every call recorded by name.
 * `failPutHook` makes the next N PutLifecycleHook calls answer 'target-unreachable' (a role still propagating);
 * `failOn` makes one named call throw an AWS rejection.
 */
export class FakeAwsAdmin implements AwsAdmin {
  readonly roles = new Map<string, FakeRole>();
  readonly queueState = new Map<string, FakeQueue>();
  readonly groups = new Map<string, Map<string, HookState>>();
  /** Group tags, by group name. */
  readonly tags = new Map<string, Record<string, string>>();
  readonly calls: string[] = [];
  failPutHook = 0;
  failOn: string | undefined;

  constructor(options: { groups?: readonly string[] } = {}) {
    for (const g of options.groups ?? []) this.groups.set(g, new Map());
  }

  /** Mutating calls only (what a dry run or an idempotent re-run must not make). */
  mutations(): string[] {
    return this.calls.filter((c) => !/^(getRole|getQueue|existingGroups|allGroups|describeHooks|groupTags)/u.test(c));
  }

  private record(call: string): void {
    this.calls.push(call);
    if (this.failOn && call.startsWith(this.failOn)) throw new RequestRejectedError(call.split(' ')[0]!, 'AccessDenied: not today');
  }

  readonly iam: AwsAdmin['iam'] = {
    getRole: async (name) => {
      this.record(`getRole ${name}`);
      const r = this.roles.get(name);
      return r ? { name, arn: r.arn, trustPolicy: r.trustPolicy, attachedPolicyArns: [...r.attached], tags: { ...r.tags } } satisfies RoleState : undefined;
    },
    createRole: async ({ name, trustPolicy, tags }) => {
      this.record(`createRole ${name}`);
      const arn = `arn:aws:iam::${ACCOUNT}:role/${name}`;
      this.roles.set(name, { arn, trustPolicy, attached: new Set(), tags: { ...tags } });
      return arn;
    },
    updateTrustPolicy: async (name, policy) => {
      this.record(`updateTrustPolicy ${name}`);
      this.roles.get(name)!.trustPolicy = policy;
    },
    attachPolicy: async (name, arn) => {
      this.record(`attachPolicy ${name}`);
      this.roles.get(name)!.attached.add(arn);
    },
    tagRole: async (name, tags) => {
      this.record(`tagRole ${name}`);
      Object.assign(this.roles.get(name)!.tags, tags);
    },
    detachPolicy: async (name, arn) => {
      this.record(`detachPolicy ${name}`);
      return this.roles.get(name)?.attached.delete(arn) ? 'detached' : 'gone';
    },
    deleteRole: async (name) => {
      this.record(`deleteRole ${name}`);
      const r = this.roles.get(name);
      if (!r) return 'gone';
      if (r.attached.size > 0) return 'in-use';
      this.roles.delete(name);
      return 'deleted';
    },
  };

  readonly queues: AwsAdmin['queues'] = {
    getQueue: async (name) => {
      this.record(`getQueue ${name}`);
      return this.queueView(name);
    },
    createQueue: async (name, attributes, tags) => {
      this.record(`createQueue ${name}`);
      const arn = `arn:aws:sqs:us-east-1:${ACCOUNT}:${name}`;
      this.queueState.set(name, { url: `https://sqs.us-east-1.amazonaws.com/${ACCOUNT}/${name}`, arn, attributes: { VisibilityTimeout: '30', MessageRetentionPeriod: '345600', SqsManagedSseEnabled: 'true', ...attributes, QueueArn: arn }, tags: { ...tags } });
      return this.queueView(name)!;
    },
    setAttributes: async (url, attributes) => {
      this.record(`setAttributes ${url.split('/').pop()}`);
      Object.assign(this.byUrl(url).attributes, attributes);
    },
    tagQueue: async (url, tags) => {
      this.record(`tagQueue ${url.split('/').pop()}`);
      Object.assign(this.byUrl(url).tags, tags);
    },
    deleteQueue: async (url) => {
      const name = url.split('/').pop()!;
      this.record(`deleteQueue ${name}`);
      return this.queueState.delete(name) ? 'deleted' : 'gone';
    },
  };

  readonly hooks: AwsAdmin['hooks'] = {
    existingGroups: async (names) => {
      this.record(`existingGroups ${names.join(',')}`);
      return new Set(names.filter((n) => this.groups.has(n)));
    },
    allGroups: async () => {
      this.record('allGroups');
      return [...this.groups.keys()];
    },
    groupTags: async (names) => {
      this.record(`groupTags ${names.join(',')}`);
      return new Map(names.filter((n) => this.tags.has(n)).map((n) => [n, { ...this.tags.get(n) }]));
    },
    describeHooks: async (group, hookName) => {
      this.record(`describeHooks ${group}`);
      return [...(this.groups.get(group)?.values() ?? [])].filter((h) => !hookName || h.lifecycleHookName === hookName);
    },
    putHook: async (request): Promise<PutHookOutcome> => {
      this.record(`putHook ${request.autoScalingGroupName}`);
      if (this.failPutHook > 0) {
        this.failPutHook--;
        return { kind: 'target-unreachable', detail: 'Unable to publish test message to notification target using IAM role' };
      }
      this.groups.get(request.autoScalingGroupName)!.set(request.lifecycleHookName, {
        autoScalingGroupName: request.autoScalingGroupName, lifecycleHookName: request.lifecycleHookName, lifecycleTransition: request.lifecycleTransition,
        heartbeatTimeoutSeconds: request.heartbeatTimeoutSeconds, globalTimeoutSeconds: Math.min(172800, 100 * request.heartbeatTimeoutSeconds),
        defaultResult: request.defaultResult, notificationTargetArn: request.notificationTargetArn, roleArn: request.roleArn,
      });
      return { kind: 'put' };
    },
    deleteHook: async (group, hookName) => {
      this.record(`deleteHook ${group}`);
      return this.groups.get(group)?.delete(hookName) ? 'deleted' : 'gone';
    },
  };

  /** Puts a hook as some earlier tool left it. */
  addHook(hook: Partial<HookState> & Pick<HookState, 'autoScalingGroupName'>): void {
    const full: HookState = {
      lifecycleHookName: 'lifecycle-manager', lifecycleTransition: 'autoscaling:EC2_INSTANCE_TERMINATING', heartbeatTimeoutSeconds: 300,
      globalTimeoutSeconds: 30000, defaultResult: 'CONTINUE', notificationTargetArn: undefined, roleArn: undefined, ...hook,
    };
    if (!this.groups.has(full.autoScalingGroupName)) this.groups.set(full.autoScalingGroupName, new Map());
    this.groups.get(full.autoScalingGroupName)!.set(full.lifecycleHookName, full);
  }

  addQueue(name: string, attributes: Record<string, string> = {}, tags: Tags = {}): void {
    const arn = `arn:aws:sqs:us-east-1:${ACCOUNT}:${name}`;
    this.queueState.set(name, { url: `https://sqs.us-east-1.amazonaws.com/${ACCOUNT}/${name}`, arn, attributes: { VisibilityTimeout: '30', MessageRetentionPeriod: '345600', ...attributes, QueueArn: arn }, tags: { ...tags } });
  }

  addRole(name: string, trustPolicy: string, attached: readonly string[] = [], tags: Tags = {}): void {
    this.roles.set(name, { arn: `arn:aws:iam::${ACCOUNT}:role/${name}`, trustPolicy, attached: new Set(attached), tags: { ...tags } });
  }

  private queueView(name: string): QueueState | undefined {
    const q = this.queueState.get(name);
    return q ? { name, url: q.url, arn: q.arn, attributes: { ...q.attributes }, tags: { ...q.tags } } : undefined;
  }

  private byUrl(url: string): FakeQueue {
    const q = this.queueState.get(url.split('/').pop()!);
    if (!q) throw new RequestRejectedError('sqs', 'QueueDoesNotExist');
    return q;
  }
}
