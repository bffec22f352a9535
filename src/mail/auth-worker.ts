// The worker thread side of auth-pool.ts: mailauth on the bytes it is sent, with the resolver
// (DNS_SERVERS) and its cache living here. Many authentications run at once: they wait on DNS.
import { parentPort, workerData } from "node:worker_threads";
import { createAuthenticator, createResolver, type AuthInput, type AuthOutcome } from "./auth.ts";
import { createDnsCache, type DnsCacheConfig } from "./dns-cache.ts";

export interface AuthWorkerData { hostname: string; dnsServers: string[]; cache: DnsCacheConfig }
export interface AuthRequest extends Omit<AuthInput, "raw"> { id: number; raw: Uint8Array }
export type AuthResponse = { id: number; outcome: AuthOutcome } | { id: number; error: string };

const data = workerData as AuthWorkerData;
const resolver = createDnsCache(data.cache, { resolver: createResolver(data.dnsServers), now: Date.now });
const authenticateMail = createAuthenticator({ hostname: data.hostname }, { resolver });

parentPort!.on("message", (request: AuthRequest) => {
  const raw = Buffer.from(request.raw.buffer, request.raw.byteOffset, request.raw.byteLength);
  authenticateMail({ ip: request.ip, helo: request.helo, mailFrom: request.mailFrom, raw }).then(
    (outcome) => parentPort!.postMessage({ id: request.id, outcome } satisfies AuthResponse),
    (err: Error) => parentPort!.postMessage({ id: request.id, error: String(err?.message ?? err) } satisfies AuthResponse),
  );
});
