// Sender authentication (SPF, DKIM, DMARC, ARC) in a worker thread: DKIM canonicalisation and body
// hashing read hostile bytes, and a crafted mail (huge lines, thousands of signatures) must not stall
// the SMTP sessions (docs/design.md §Parsing once). mailauth waits on DNS most of the time, so one
// thread runs every authentication at once; each has its own time limit, the thread a heap limit.
//
// A limit reached is our trouble, not the sender's: the caller answers 451 and the sender retries
// (docs/design.md §Invariants, 1: never a 5xx for it). Nothing was accepted, so nothing is lost.
import type { EventLoopUtilization } from "node:perf_hooks";
import { Worker } from "node:worker_threads";
import type { Logger } from "../log.ts";
import type { AuthInput, AuthOutcome } from "./auth.ts";
import type { AuthRequest, AuthResponse, AuthWorkerData } from "./auth-worker.ts";
import type { DnsCacheConfig } from "./dns-cache.ts";

export interface AuthPoolConfig {
  hostname: string;
  dnsServers: string[];
  /** one authentication, DNS included */
  timeoutMs: number;
  /** V8 old-generation heap of the thread */
  memoryMb: number;
  cache?: DnsCacheConfig;
}

export interface AuthPool {
  authenticate(input: AuthInput): Promise<AuthOutcome>;
  /** 1 while the thread runs (it starts with the first mail), else 0 */
  threads(): number;
  close(): Promise<void>;
}

interface Job { resolve(outcome: AuthOutcome): void; reject(err: Error): void; timer: NodeJS.Timeout; started: EventLoopUtilization }
interface Thread { worker: Worker; jobs: Map<number, Job> }

const WORKER = new URL("./auth-worker.ts", import.meta.url);
const CACHE: DnsCacheConfig = { ttlMs: 60_000, maxEntries: 10_000 };
/** A job out of time while its thread was busy at least this share of the time: the thread is stuck
 * on hostile bytes, not waiting on DNS (an event loop that waits is idle). */
const BUSY = 0.9;

export function createAuthPool(config: AuthPoolConfig, deps: { log: Logger }): AuthPool {
  let thread: Thread | null = null;
  let nextId = 1;
  let closed = false;

  /** The thread is stuck, out of memory or gone: every job in it fails (451), the next mail starts another. */
  const replace = (t: Thread, reason: string) => {
    if (thread === t) thread = null;
    deps.log.warn({ reason, inFlight: t.jobs.size }, "sender authentication thread replaced");
    for (const job of t.jobs.values()) {
      clearTimeout(job.timer);
      job.reject(new Error(`sender authentication stopped: ${reason}`));
    }
    t.jobs.clear();
    t.worker.removeAllListeners();
    t.worker.on("error", () => undefined);
    void t.worker.terminate();
  };

  const spawn = (): Thread => {
    const worker = new Worker(WORKER, {
      workerData: { hostname: config.hostname, dnsServers: config.dnsServers, cache: config.cache ?? CACHE } satisfies AuthWorkerData,
      resourceLimits: { maxOldGenerationSizeMb: config.memoryMb, maxYoungGenerationSizeMb: 8 },
    });
    worker.unref();
    const t: Thread = { worker, jobs: new Map() };
    worker.on("message", (response: AuthResponse) => {
      const job = t.jobs.get(response.id);
      if (!job) return; // out of time already, answered
      t.jobs.delete(response.id);
      clearTimeout(job.timer);
      if (t.jobs.size === 0) worker.unref();
      if ("outcome" in response) job.resolve(response.outcome);
      else job.reject(new Error(response.error));
    });
    worker.on("error", (err: Error & { code?: string }) =>
      replace(t, err.code === "ERR_WORKER_OUT_OF_MEMORY" ? `a mail needed more than ${config.memoryMb} MB` : `it failed: ${err.message}`));
    worker.on("exit", () => replace(t, "it stopped"));
    return t;
  };

  const expire = (t: Thread, id: number) => {
    const job = t.jobs.get(id);
    if (!job) return;
    t.jobs.delete(id);
    if (t.jobs.size === 0) t.worker.unref();
    job.reject(new Error(`sender authentication took longer than ${config.timeoutMs / 1000} s`));
    const busy = t.worker.performance.eventLoopUtilization(job.started).utilization;
    if (busy >= BUSY) replace(t, `busy ${Math.round(busy * 100)} % of the last ${config.timeoutMs / 1000} s`);
  };

  return {
    authenticate(input) {
      if (closed) return Promise.reject(new Error("sender authentication stopped: the gateway is stopping"));
      const t = thread ??= spawn();
      const id = nextId++;
      return new Promise<AuthOutcome>((resolve, reject) => {
        const timer = setTimeout(() => expire(t, id), config.timeoutMs);
        timer.unref();
        t.jobs.set(id, { resolve, reject, timer, started: t.worker.performance.eventLoopUtilization() });
        // A large mail is in shared memory nobody writes any more (raw-buffer.ts): the thread reads the
        // same bytes. Otherwise a copy the thread owns; the caller keeps its buffer to store.
        const shared = input.raw.buffer instanceof SharedArrayBuffer;
        const raw = shared ? input.raw : new Uint8Array(input.raw);
        t.worker.ref();
        t.worker.postMessage({ id, ip: input.ip, helo: input.helo, mailFrom: input.mailFrom, raw } satisfies AuthRequest,
          shared ? [] : [raw.buffer as ArrayBuffer]);
      });
    },
    threads: () => (thread ? 1 : 0),
    async close() {
      closed = true;
      const t = thread;
      thread = null;
      if (!t) return;
      t.worker.removeAllListeners();
      for (const job of t.jobs.values()) {
        clearTimeout(job.timer);
        job.reject(new Error("sender authentication stopped: the gateway is stopping"));
      }
      t.jobs.clear();
      await t.worker.terminate();
    },
  };
}
