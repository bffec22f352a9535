// Hostile bytes are read in worker threads (docs/design.md §Parsing once, §Budgets): a MIME bomb, 100k
// header lines, a 10 MB line or HTML that takes the sanitizer minutes cannot stall the SMTP sessions, whose
// event loop stays free. Each job has a time limit (the worker is terminated, a fresh one takes its place)
// and a heap limit (resourceLimits: the worker dies with ERR_WORKER_OUT_OF_MEMORY, the gateway does not).
// A job that hits either gets its caller's fallback, which says so. The same pool code runs the mail parse
// (parse-pool.ts) and the web page build (web/page-pool.ts), each its own instance with its own limits.
import { Worker } from "node:worker_threads";
import type { Logger } from "../log.ts";
import { BudgetSpent } from "./memory-budget.ts";

export interface WorkerPoolConfig {
  /** worker threads; jobs beyond this wait their turn */
  size: number;
  timeoutMs: number;
  /** V8 old-generation heap of each worker */
  memoryMb: number;
  /** a worker with nothing to do for this long exits; the next job starts one (default 60 s) */
  idleMs?: number;
  /** a worker that has read a job this large exits after it (default 4 MiB) */
  retireAfterBytes?: number;
  /** jobs that may wait for a thread, and their bytes: a refusable job past either is refused
   * (BudgetSpent) rather than queued (docs/design.md §Budgets); default: no bound */
  maxQueued?: number;
  maxQueuedBytes?: number;
}

/** One job for the worker thread: `payload` is posted as is, `transfer` moved rather than copied. */
export interface JobSpec<T> {
  payload: unknown;
  transfer?: ArrayBuffer[];
  /** bytes the job reads (for retireAfterBytes and the log) */
  size: number;
  /** the answer when the job cannot finish: the reason in words */
  fallback(reason: string): T;
  /** refused with BudgetSpent when the waiting queue is at its bound; otherwise the job always waits */
  refusable?: boolean;
}

export interface WorkerPool {
  run<T>(job: JobSpec<T>): Promise<T>;
  /** worker threads running now (0 before the first job and after they have all gone idle) */
  threads(): number;
  close(): Promise<void>;
}

/** What the worker script receives and answers (pool-worker.ts). */
export interface JobRequest { id: number; payload: unknown }
export type JobResponse = { id: number; value: unknown } | { id: number; error: string };

interface Job { id: number; spec: JobSpec<unknown>; resolve(value: unknown): void }
interface Slot { worker: Worker; job: Job | null; timer: NodeJS.Timeout | null; idle: NodeJS.Timeout | null }

// Resident memory: each worker is a V8 isolate of about 30 MiB with its libraries loaded, and V8 gives back
// little of a heap that grew for a large job. So workers start with the first job, not with the gateway;
// one idle for IDLE_MS exits; one that has read a large job exits right after it.
const IDLE_MS = 60_000;
const RETIRE_AFTER_BYTES = 4 * 1024 * 1024;

/** `script`: the worker's module; `workerData`: what it is started with (its time limit is added). */
export function createWorkerPool(config: WorkerPoolConfig & { script: URL; workerData?: Record<string, unknown>; name: string },
  deps: { log: Logger }): WorkerPool {
  const idleMs = config.idleMs ?? IDLE_MS;
  const retireAfterBytes = config.retireAfterBytes ?? RETIRE_AFTER_BYTES;
  const slots: Slot[] = [];
  const queue: Job[] = [];
  let queuedBytes = 0;
  let nextId = 1;
  let closed = false;

  const finish = (slot: Slot, value: unknown) => {
    const job = slot.job;
    if (slot.timer) clearTimeout(slot.timer);
    slot.job = null;
    slot.timer = null;
    job?.resolve(value);
  };

  /** The slot's worker ends (the next job starts another); any job must be finished first. */
  const retire = (slot: Slot) => {
    if (slot.idle) clearTimeout(slot.idle);
    slot.worker.removeAllListeners();
    slot.worker.on("error", () => undefined);
    void slot.worker.terminate();
    const at = slots.indexOf(slot);
    if (at !== -1) slots.splice(at, 1);
  };

  /** The worker is gone or stuck: its job gets its fallback, a new worker takes the slot. */
  const replace = (slot: Slot, reason: string) => {
    const job = slot.job;
    if (job) deps.log.warn({ pool: config.name, reason, size: job.spec.size }, "a job in the worker pool could not finish");
    if (job) finish(slot, job.spec.fallback(reason));
    retire(slot);
    pump();
  };

  /** A job done: the worker waits for the next (and exits after idleMs), or exits now after a large job. */
  const done = (slot: Slot, size: number) => {
    if (size >= retireAfterBytes) retire(slot);
    else {
      slot.idle = setTimeout(() => retire(slot), idleMs);
      slot.idle.unref();
    }
    pump();
  };

  const spawn = (): Slot => {
    const worker = new Worker(config.script, {
      workerData: { ...config.workerData, timeoutMs: config.timeoutMs },
      resourceLimits: { maxOldGenerationSizeMb: config.memoryMb, maxYoungGenerationSizeMb: 8 },
    });
    worker.unref();
    const slot: Slot = { worker, job: null, timer: null, idle: null };
    worker.on("message", (response: JobResponse) => {
      const job = slot.job;
      if (!job || job.id !== response.id) return;
      finish(slot, "value" in response ? response.value : job.spec.fallback(`the parser gave up: ${response.error}`));
      done(slot, job.spec.size);
    });
    worker.on("error", (err: Error & { code?: string }) =>
      replace(slot, err.code === "ERR_WORKER_OUT_OF_MEMORY" ? "it needs more memory than allowed to decode" : `the parser failed: ${err.message}`));
    worker.on("exit", () => { if (slots.includes(slot)) replace(slot, "the parser stopped"); });
    slots.push(slot);
    return slot;
  };

  const pump = () => {
    while (!closed && queue.length > 0) {
      const slot = slots.find((s) => !s.job) ?? (slots.length < config.size ? spawn() : null);
      if (!slot) return;
      const job = queue.shift()!;
      queuedBytes -= job.spec.size;
      if (slot.idle) clearTimeout(slot.idle);
      slot.idle = null;
      slot.job = job;
      slot.timer = setTimeout(() => replace(slot, `it took longer than ${config.timeoutMs / 1000} s to decode`), config.timeoutMs);
      slot.timer.unref();
      slot.worker.ref();
      slot.worker.postMessage({ id: job.id, payload: job.spec.payload } satisfies JobRequest, job.spec.transfer ?? []);
    }
    for (const s of slots) if (!s.job) s.worker.unref();
  };

  return {
    run<T>(spec: JobSpec<T>): Promise<T> {
      if (closed) return Promise.reject(new Error(`${config.name} pool closed`));
      const idle = slots.some((s) => !s.job) || slots.length < config.size;
      const full = queue.length >= (config.maxQueued ?? Infinity) || queuedBytes + spec.size > (config.maxQueuedBytes ?? Infinity);
      if (spec.refusable && !idle && full) {
        deps.log.warn({ pool: config.name, waiting: queue.length, waitingBytes: queuedBytes, size: spec.size }, "job refused: the queue is full");
        return Promise.reject(new BudgetSpent(`the ${config.name} queue is full (${queue.length} jobs waiting)`));
      }
      return new Promise<T>((resolve) => {
        queue.push({ id: nextId++, spec, resolve: resolve as (value: unknown) => void });
        queuedBytes += spec.size;
        pump();
      });
    },
    threads: () => slots.length,
    async close() {
      closed = true;
      queuedBytes = 0;
      for (const job of queue.splice(0)) job.resolve(job.spec.fallback("the gateway was stopping"));
      const all = slots.splice(0);
      for (const s of all) {
        if (s.idle) clearTimeout(s.idle);
        s.worker.removeAllListeners();
        if (s.job) finish(s, s.job.spec.fallback("the gateway was stopping"));
      }
      await Promise.all(all.map((s) => s.worker.terminate()));
    },
  };
}
