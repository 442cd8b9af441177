/**
 * A kube-apiserver that has just (re)started answers 403 to every identity outside system:masters until its RBAC
 * informers have synced: requests that worked a minute ago are all forbidden for a few seconds. CI caught one in
 * the middle of a drain, which then failed a whole drain attempt for nothing. This tells that apart from a
 * permission that is really missing.
 *
 * A 403 counts as the authorizer warming up when (1) this process has had the same verb on the same resource
 * authorized before, (2) nothing has been authorized since the first 403 of the current run of 403s, and (3) that
 * first 403 is less than `windowMs` old. A request refused during a run that ends with some other request being
 * authorized was not refused by a warming authorizer, so its next 403 is access denied at once. Hence a verb never
 * granted fails at once; a permission taken away while the service runs fails as soon as anything else is
 * authorized, or after `windowMs` at the latest.
 *
 * The verdict is made when the response arrives and remembered by the response's header object, which the
 * client's ApiException carries, so the error mapping asks about exactly that response.
 */
export class AuthorizerWarmup {
  private readonly authorized = new Set<string>();
  private readonly denied = new Set<string>();
  private readonly refusedInRun = new Set<string>();
  private readonly warmupResponses = new WeakSet<object>();
  private runStartedAtMs: number | undefined;

  constructor(
    readonly windowMs = 30_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** Sees every response: `request` is "verb resource" (e.g. "list pods"), `headers` the response's header object. */
  observe(request: string, httpStatus: number, headers: object): void {
    if (httpStatus === 403) {
      const now = this.now();
      this.runStartedAtMs ??= now;
      this.refusedInRun.add(request);
      if (this.authorized.has(request) && !this.denied.has(request) && now - this.runStartedAtMs < this.windowMs) {
        this.warmupResponses.add(headers);
      }
    } else if (httpStatus !== 401 && httpStatus < 500) {
      // The request got past authorization: 2xx, and 404/409/422/429 are answered after it.
      this.authorized.add(request);
      for (const refused of this.refusedInRun) this.denied.add(refused);
      this.denied.delete(request);
      this.refusedInRun.clear();
      this.runStartedAtMs = undefined;
    }
  }

  /** True when `error` is an API error for a 403 response judged to come from an authorizer still warming up. */
  isWarmupRefusal(error: unknown): boolean {
    const headers = (error as { headers?: unknown } | null)?.headers;
    return typeof headers === 'object' && headers !== null && this.warmupResponses.has(headers);
  }
}
