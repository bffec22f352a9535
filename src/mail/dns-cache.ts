// DNS answers remembered for sender authentication: the SPF, DKIM key and DMARC records of a domain are
// asked again for every mail it sends. Bounded in time and in size.
import type { DNSResolver } from "mailauth";

export interface DnsCacheConfig {
  /** how long an answer is kept (the record's own TTL is not exposed by node:dns for TXT; see below) */
  ttlMs: number;
  /** answers kept at most; the oldest goes first */
  maxEntries: number;
}

// RFC 2308 §5: a name that does not exist, or has no record of the type asked, may be remembered too.
// Any other failure (SERVFAIL, a timeout, a refused query) is temporary and asked again next time.
const NEGATIVE = new Set(["ENOTFOUND", "ENODATA"]);

interface Entry { expires: number; answer: Promise<string[][] | string[]> }

/**
 * `resolver` with answers remembered for `ttlMs`. Node's resolver gives no TTL for TXT (RFC 1035 §3.2.1):
 * `ttlMs` is kept well below what mail domains publish (300 s and more), so an answer can be seen at most
 * `ttlMs` late. Concurrent lookups of one name share one query.
 */
export function createDnsCache(config: DnsCacheConfig, deps: { resolver: DNSResolver; now(): number }): DNSResolver {
  const entries = new Map<string, Entry>();
  return (name, rrtype) => {
    const key = `${rrtype}:${name.toLowerCase()}`;
    const now = deps.now();
    let entry = entries.get(key);
    if (entry && entry.expires <= now) {
      entries.delete(key);
      entry = undefined;
    }
    if (!entry) {
      const answer = Promise.resolve().then(() => deps.resolver(name, rrtype));
      const created: Entry = { expires: now + config.ttlMs, answer };
      answer.catch((err: { code?: string }) => {
        if (!NEGATIVE.has(err?.code ?? "") && entries.get(key) === created) entries.delete(key);
      });
      entries.set(key, created);
      while (entries.size > config.maxEntries) entries.delete(entries.keys().next().value!);
      entry = created;
    }
    // Each caller gets its own arrays (mailauth sorts and slices what it is given) and its own error.
    return entry.answer.then(
      (value) => value.map((v) => (Array.isArray(v) ? [...v] : v)) as string[][] | string[],
      (err: Error & { code?: string }) => { throw Object.assign(new Error(err.message), { code: err.code }); },
    );
  };
}
