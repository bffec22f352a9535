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
import { bytesForThread } from "./raw-buffer.ts";

export interface AuthPoolConfig {
  hostname: string;
  dnsServers: string[];
  /** one authentication, DNS included */
  timeoutMs: number;
  /** V8 old-generation heap of the thread */
  memoryMb: number;
  cache?: DnsCacheConfig;
  /** the thread exits after this long with nothing to do; the next mail starts another (default 60 s) */
  idleMs?: number;
  /** a thread that has read a mail this large exits once its jobs are done (default 4 MiB) */
  retireAfterBytes?: number;
}

export interface AuthPool {
  authenticate(input: AuthInput): Promise<AuthOutcome>;
  /** threads running now: 0 before the first mail and after an idle minute, 2 while one retires */
  threads(): number;
  close(): Promise<void>;
}

interface Job { resolve(outcome: AuthOutcome): void; reject(err: Error): void; timer: NodeJS.Timeout; started: EventLoopUtilization; size: number }
interface Thread { worker: Worker; jobs: Map<number, Job>; idle: NodeJS.Timeout | null; retiring: boolean; outbox: AuthRequest[]; transfer: ArrayBuffer[] }

const WORKER = new URL("./auth-worker.ts", import.meta.url);
// The cache lives as long as its answers: a thread idle for IDLE_MS has nothing left worth keeping.
const CACHE: DnsCacheConfig = { ttlMs: 60_000, maxEntries: 10_000 };
// Resident memory, as for the parse pool (parse-pool.ts): an isolate with mailauth is about 30 MiB, and
// V8 gives back little of a heap that grew for a large mail.
const IDLE_MS = 60_000;
const RETIRE_AFTER_BYTES = 4 * 1024 * 1024;
/** A job out of time while its thread was busy at least this share of the time: the thread is stuck
 * on hostile bytes, not waiting on DNS (an event loop that waits is idle). */
const BUSY = 0.9;

export function createAuthPool(config: AuthPoolConfig, deps: { log: Logger }): AuthPool {
  const idleMs = config.idleMs ?? IDLE_MS;
  const retireAfterBytes = config.retireAfterBytes ?? RETIRE_AFTER_BYTES;
  /** the thread new mails go to */
  let current: Thread | null = null;
  /** it and any still finishing its last jobs */
  const all = new Set<Thread>();
  let nextId = 1;
  let closed = false;

  const end = (t: Thread) => {
    if (current === t) current = null;
    all.delete(t);
    if (t.idle) clearTimeout(t.idle);
    t.worker.removeAllListeners();
    t.worker.on("error", () => undefined);
    void t.worker.terminate();
  };

  /** The thread is stuck, out of memory or gone: every job in it fails (451), the next mail starts another. */
  const replace = (t: Thread, reason: string) => {
    deps.log.warn({ reason, inFlight: t.jobs.size }, "sender authentication thread replaced");
    for (const job of t.jobs.values()) {
      clearTimeout(job.timer);
      job.reject(new Error(`sender authentication stopped: ${reason}`));
    }
    t.jobs.clear();
    end(t);
  };

  /** A job has left the thread: with none left it may exit (retiring) or waits idleMs for the next. */
  const settle = (t: Thread) => {
    if (t.jobs.size > 0) return;
    t.worker.unref();
    if (t.retiring) return end(t);
    t.idle = setTimeout(() => end(t), idleMs);
    t.idle.unref();
  };

  const spawn = (): Thread => {
    const worker = new Worker(WORKER, {
      // The thread's name in `top -H` and /proc (the bench counts its CPU apart).
      name: "auth",
      workerData: { hostname: config.hostname, dnsServers: config.dnsServers, cache: config.cache ?? CACHE } satisfies AuthWorkerData,
      resourceLimits: { maxOldGenerationSizeMb: config.memoryMb, maxYoungGenerationSizeMb: 8 },
    });
    worker.unref();
    const t: Thread = { worker, jobs: new Map(), idle: null, retiring: false, outbox: [], transfer: [] };
    worker.on("message", (responses: AuthResponse[]) => {
      for (const response of responses) {
        const job = t.jobs.get(response.id);
        if (!job) continue; // out of time already, answered
        t.jobs.delete(response.id);
        clearTimeout(job.timer);
        if (job.size >= retireAfterBytes) {
          t.retiring = true;
          if (current === t) current = null;
        }
        if ("outcome" in response) job.resolve(response.outcome);
        else job.reject(new Error(response.error));
      }
      settle(t);
    });
    worker.on("error", (err: Error & { code?: string }) =>
      replace(t, err.code === "ERR_WORKER_OUT_OF_MEMORY" ? `a mail needed more than ${config.memoryMb} MB` : `it failed: ${err.message}`));
    worker.on("exit", () => replace(t, "it stopped"));
    all.add(t);
    return t;
  };

  const flush = (t: Thread) => {
    const batch = t.outbox;
    const transfer = t.transfer;
    t.outbox = [];
    t.transfer = [];
    if (!all.has(t)) return; // replaced meanwhile: its jobs are answered
    t.worker.postMessage(batch, transfer);
  };

  const expire = (t: Thread, id: number) => {
    const job = t.jobs.get(id);
    if (!job) return;
    t.jobs.delete(id);
    job.reject(new Error(`sender authentication took longer than ${config.timeoutMs / 1000} s`));
    const busy = t.worker.performance.eventLoopUtilization(job.started).utilization;
    if (busy >= BUSY) replace(t, `busy ${Math.round(busy * 100)} % of the last ${config.timeoutMs / 1000} s`);
    else settle(t);
  };

  return {
    authenticate(input) {
      if (closed) return Promise.reject(new Error("sender authentication stopped: the gateway is stopping"));
      const t = current ??= spawn();
      if (t.idle) clearTimeout(t.idle);
      t.idle = null;
      const id = nextId++;
      return new Promise<AuthOutcome>((resolve, reject) => {
        const timer = setTimeout(() => expire(t, id), config.timeoutMs);
        timer.unref();
        t.jobs.set(id, { resolve, reject, timer, started: t.worker.performance.eventLoopUtilization(), size: input.raw.length });
        const { bytes: raw, transfer } = bytesForThread(input.raw);
        t.transfer.push(...transfer);
        t.worker.ref();
        // Mails that end in the same turn of the event loop go together: one message, one wake-up.
        if (t.outbox.push({ id, ip: input.ip, helo: input.helo, mailFrom: input.mailFrom, raw }) === 1) setImmediate(() => flush(t));
      });
    },
    threads: () => all.size,
    async close() {
      closed = true;
      const threads = [...all];
      current = null;
      all.clear();
      for (const t of threads) {
        if (t.idle) clearTimeout(t.idle);
        t.worker.removeAllListeners();
        for (const job of t.jobs.values()) {
          clearTimeout(job.timer);
          job.reject(new Error("sender authentication stopped: the gateway is stopping"));
        }
        t.jobs.clear();
      }
      await Promise.all(threads.map((t) => t.worker.terminate()));
    },
  };
}
