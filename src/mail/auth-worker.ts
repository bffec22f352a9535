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

// Answers leave together once per turn of the event loop: one message, one wake-up of the main thread.
let answers: AuthResponse[] = [];
const answer = (response: AuthResponse) => {
  if (answers.push(response) === 1) setImmediate(() => {
    const batch = answers;
    answers = [];
    parentPort!.postMessage(batch);
  });
};

parentPort!.on("message", (requests: AuthRequest[]) => {
  for (const request of requests) {
    const raw = Buffer.from(request.raw.buffer, request.raw.byteOffset, request.raw.byteLength);
    authenticateMail({ ip: request.ip, helo: request.helo, mailFrom: request.mailFrom, raw }).then(
      (outcome) => answer({ id: request.id, outcome }),
      (err: Error) => answer({ id: request.id, error: String(err?.message ?? err) }),
    );
  }
});
