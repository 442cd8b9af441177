/**
 * The headers file (--webhook-headers-file, e.g. a Secret mounted as a file, for an Authorization header): one
 * `Name: value` per line, as `curl -H @file` reads them; blank lines and lines starting with `#` are skipped.
 */
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/u;
/** Set by the HTTP client from the request itself. */
const RESERVED = new Set(['host', 'content-length', 'transfer-encoding', 'connection', 'keep-alive', 'upgrade', 'expect', 'te', 'trailer']);

export type HeadersCheck = { readonly ok: true; readonly headers: Readonly<Record<string, string>> } | { readonly ok: false; readonly problem: string };

export function parseHeaders(text: string): HeadersCheck {
  const headers: Record<string, string> = {};
  const lines = text.split(/\r?\n/u);
  for (const [i, raw] of lines.entries()) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const colon = line.indexOf(':');
    const name = colon > 0 ? line.slice(0, colon).trim() : '';
    if (!TOKEN.test(name)) return { ok: false, problem: `line ${i + 1} is not "Name: value"` };
    if (RESERVED.has(name.toLowerCase())) return { ok: false, problem: `line ${i + 1}: ${name} is set by the HTTP client, not by the headers file` };
    const value = line.slice(colon + 1).trim();
    // A repeated name is joined as HTTP allows; the value itself is never shown (it is often a credential).
    const key = Object.keys(headers).find((k) => k.toLowerCase() === name.toLowerCase()) ?? name;
    headers[key] = headers[key] === undefined ? value : `${headers[key]}, ${value}`;
  }
  return { ok: true, headers };
}
