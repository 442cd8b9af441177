/**
 * One webhook POST through undici, with the standard proxy variables honoured (Node's fetch ignores them):
 * HTTPS_PROXY (else HTTP_PROXY) for https:// URLs, HTTP_PROXY for http:// ones (lower-case names first), and
 * NO_PROXY (host names, domain suffixes, host:port, `*`; no CIDR ranges) for the hosts reached directly.
 */
import { createRequire } from 'node:module';
import type * as Undici from 'undici';

/** undici is loaded when a webhook is configured, not by every serve (it costs ~20 MiB of memory). */
const loadUndici = (): typeof Undici => createRequire(import.meta.url)('undici') as typeof Undici;

/** What an answer says, as far as retrying goes. */
export interface PostAnswer {
  readonly status: number;
  /** The Retry-After header, when there is one. */
  readonly retryAfter: string | undefined;
  /** The first bytes of the body, for the log line of a refusal. */
  readonly excerpt: string;
}

export interface WebhookTransport {
  /** Rejects on a network failure or when `signal` aborts. */
  post(url: URL, headers: Readonly<Record<string, string>>, body: string, signal: AbortSignal): Promise<PostAnswer>;
  close(): Promise<void>;
}

export interface ProxySettings {
  /** '' for none. */
  readonly httpProxy: string;
  readonly httpsProxy: string;
  readonly noProxy: string;
}

/** The proxy variables from an environment (`http_proxy` before `HTTP_PROXY`, and so on). */
export function proxySettingsFrom(env: Readonly<Record<string, string | undefined>>): ProxySettings {
  const pick = (name: string): string => (env[name.toLowerCase()] ?? env[name] ?? '').trim();
  return { httpProxy: pick('HTTP_PROXY'), httpsProxy: pick('HTTPS_PROXY'), noProxy: pick('NO_PROXY') };
}

/** Which proxy a URL goes through, for the startup log line (credentials left out). */
export function describeRoute(url: URL, proxy: ProxySettings): string {
  const via = url.protocol === 'https:' ? proxy.httpsProxy || proxy.httpProxy : proxy.httpProxy;
  if (!via) return 'directly';
  let shown = via;
  try {
    const u = new URL(via);
    shown = `${u.protocol}//${u.host}`;
  } catch { /* shown as given */ }
  return `through the proxy ${shown}${proxy.noProxy ? ` unless NO_PROXY (${proxy.noProxy}) matches` : ''}`;
}

const EXCERPT_BYTES = 200;

export function createHttpTransport(proxy: ProxySettings): WebhookTransport {
  // Passing every value (even '') keeps undici from reading process.env itself: the CLI decided what they are.
  const { EnvHttpProxyAgent, request } = loadUndici();
  const dispatcher = new EnvHttpProxyAgent({ httpProxy: proxy.httpProxy, httpsProxy: proxy.httpsProxy, noProxy: proxy.noProxy });
  return {
    post: async (url, headers, body, signal) => {
      const res = await request(url, { method: 'POST', headers: { ...headers }, body, signal, dispatcher });
      let excerpt = '';
      try {
        for await (const chunk of res.body) {
          excerpt += Buffer.from(chunk as Uint8Array).toString('utf8');
          if (excerpt.length >= EXCERPT_BYTES) break;
        }
      } finally {
        res.body.destroy();
      }
      const retryAfter = res.headers['retry-after'];
      return { status: res.statusCode, retryAfter: Array.isArray(retryAfter) ? retryAfter[0] : retryAfter, excerpt: excerpt.slice(0, EXCERPT_BYTES).replace(/\s+/gu, ' ').trim() };
    },
    close: () => dispatcher.close(),
  };
}
