// The budgets of web clients (docs/design.md §Budgets, Web clients): connections per peer address, and for
// the public routes (/m/, /presence/) a request rate and requests in flight per client. A client is its
// address, or behind a trusted proxy the address the proxy names (core/client-address.ts); IPv6 counts
// by /64. Overall caps are the server's own (ops/http.ts) and each route's (web/routes.ts, web/badges.ts).
import { addressSet, clientKey, forwardedClient, normaliseIp } from "../core/client-address.ts";
import { createRateLimiter } from "../core/rate.ts";

export interface WebClientLimits {
  /** HTTP_TRUSTED_PROXIES: peers (addresses or networks) whose X-Forwarded-For names the client; they have no connection cap */
  trustedProxies: string[];
  /** HTTP_RATE_PER_MINUTE: public requests a client may make a minute (a quarter of it at once); 0: off */
  ratePerMinute: number;
  /** HTTP_CLIENT_CONCURRENT: public requests of one client being answered at once */
  maxInFlight: number;
  /** HTTP_CONNECTIONS_PER_CLIENT: open connections from one peer address (by /64 for IPv6) */
  maxConnections: number;
}

/** Why a request is refused: 429 (RFC 6585 §4) with Retry-After, in seconds. */
export interface WebRefusal { reason: "rate" | "busy"; retryAfter: number }

export interface WebClients {
  /** The key of the client a request from `peer` stands for. */
  clientOf(peer: string | undefined, forwardedFor: string | undefined): string;
  /** A public request of `client`: its release (call once, when the answer is done), or the refusal. */
  admit(client: string): (() => void) | WebRefusal;
  /** A new connection from `peer`: its release, or null when the peer already holds its share. */
  connect(peer: string | undefined): (() => void) | null;
  /** Clients with requests in flight, peers with connections open: what the budgets remember besides rates. */
  size(): { inFlight: number; connections: number };
}

export function createWebClients(limits: WebClientLimits, deps: { now(): number }): WebClients {
  const trusted = addressSet(limits.trustedProxies);
  const rate = createRateLimiter({ perMinute: limits.ratePerMinute, burst: Math.ceil(limits.ratePerMinute / 4) }, deps);
  const retryAfter = Math.max(1, Math.ceil(60 / Math.max(1, limits.ratePerMinute)));
  const inFlight = new Map<string, number>();
  const connections = new Map<string, number>();

  /** One more under `key` in `counts` unless at `max`; its release, which counts only once. */
  const hold = (counts: Map<string, number>, key: string, max: number): (() => void) | null => {
    const n = counts.get(key) ?? 0;
    if (n >= max) return null;
    counts.set(key, n + 1);
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      const left = (counts.get(key) ?? 1) - 1;
      if (left > 0) counts.set(key, left);
      else counts.delete(key);
    };
  };

  return {
    clientOf: (peer, forwardedFor) => clientKey(forwardedClient(peer ?? "", forwardedFor, trusted)),
    admit(client) {
      // In flight first: a client at its share spends no rate on requests it cannot make.
      if ((inFlight.get(client) ?? 0) >= limits.maxInFlight) return { reason: "busy", retryAfter: 1 };
      if (!rate.take(client)) return { reason: "rate", retryAfter };
      return hold(inFlight, client, limits.maxInFlight)!;
    },
    connect(peer) {
      const address = normaliseIp(peer);
      if (trusted.has(address)) return () => undefined;
      return hold(connections, clientKey(address), limits.maxConnections);
    },
    size: () => ({ inFlight: inFlight.size, connections: connections.size }),
  };
}
