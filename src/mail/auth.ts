// SPF, DKIM, DMARC and ARC for inbound mail with mailauth (RFC 7208, 6376, 7489, 8617).
import { promises as dns } from "node:dns";
import { authenticate, type AuthenticateResult, type DNSResolver } from "mailauth";
import { getDomain } from "tldts";
import type { AuthFacts } from "../core/auth-policy.ts";

export interface AuthInput { ip: string | null; helo: string | null; mailFrom: string; raw: Buffer }

export interface AuthOutcome {
  facts: AuthFacts;
  /** Authentication-Results (RFC 8601) and Received-SPF fields to prepend to the stored mail */
  headers: string;
}

/** A resolver over the given servers (`DNS_SERVERS`), else the system's. */
export function createResolver(servers: string[]): DNSResolver {
  const resolver = new dns.Resolver({ timeout: 5000, tries: 2 });
  if (servers.length) resolver.setServers(servers);
  return (name, rrtype) => resolver.resolve(name, rrtype) as Promise<string[][] | string[]>;
}

export function createAuthenticator(config: { hostname: string }, deps: { resolver: DNSResolver }) {
  return async function authenticateMail(input: AuthInput): Promise<AuthOutcome> {
    const result = await authenticate(input.raw, {
      ip: input.ip ?? "0.0.0.0", helo: input.helo ?? undefined, sender: input.mailFrom || undefined,
      mta: config.hostname, resolver: deps.resolver, disableBimi: true,
    });
    return { facts: factsOf(result), headers: result.headers };
  };
}

const TEMP = new Set(["temperror", "temperr"]);

/** The facts the policy needs (core/auth-policy.ts), from mailauth's verbose result. */
export function factsOf(r: AuthenticateResult): AuthFacts {
  const dmarc = r.dmarc || null;
  const fromDomain = dmarc && dmarc.status.header?.from ? String(dmarc.status.header.from).toLowerCase() : null;
  const result = dmarc ? String(dmarc.status.result) : null;
  const policy = dmarc && dmarc.policy && ["none", "quarantine", "reject"].includes(dmarc.policy) && result !== "none"
    ? dmarc.policy as AuthFacts["policy"] : null;
  return {
    fromDomain,
    dmarc: result === null ? null : TEMP.has(result) ? "temperror"
      : (["pass", "fail", "none", "permerror"].includes(result) ? result as AuthFacts["dmarc"] : "none"),
    policy,
    aligned: Boolean(dmarc && (dmarc.alignment?.spf?.result || dmarc.alignment?.dkim?.result))
      // Without a DMARC record mailauth computes no alignment: relaxed alignment here (RFC 7489 §3.1).
      || Boolean(fromDomain && r.spf && r.spf.status.result === "pass" && related(r.spf.domain, fromDomain))
      || r.dkim.results.some((d) => d.status.result === "pass" && fromDomain !== null && related(String(d.signingDomain ?? ""), fromDomain)),
    spfTemperror: Boolean(r.spf && TEMP.has(r.spf.status.result)),
    otherTemperror: r.dkim.results.some((d) => TEMP.has(d.status.result)),
  };
}

/** RFC 7489 §3.1.1 relaxed alignment: the same organizational domain (public suffix list, via tldts). */
function related(a: string, b: string): boolean {
  const org = (d: string) => getDomain(d.toLowerCase(), { allowPrivateDomains: false }) ?? d.toLowerCase();
  return a !== "" && org(a) === org(b);
}
