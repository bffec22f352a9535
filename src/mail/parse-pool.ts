// Mail parsing isolated in worker threads (issue #6, bad-inputs.md Limits): a MIME bomb, 100k header lines
// or a 10 MB line cannot stall the SMTP sessions, whose event loop stays free. Each parse has a time limit
// (the worker is terminated, a fresh one takes its place) and a heap limit (resourceLimits: the worker
// dies with ERR_WORKER_OUT_OF_MEMORY, the gateway does not).
//
// A mail that cannot be read in time or memory is still accepted: the raw bytes are stored (invariant: a
// 250 loses nothing) and the parsed form is a short notice saying so, which the user reads in the chat.
// Answering 451 instead would make the sender retry the same bomb forever.
import { Worker } from "node:worker_threads";
import type { ParsedMail } from "../core/types.ts";
import { unreadMail as unreadable } from "./unread.ts";
import type { Logger } from "../log.ts";
import type { ParseRequest, ParseResponse } from "./parse-worker.ts";

export interface ParsePoolConfig {
  /** worker threads; parses beyond this wait their turn */
  size: number;
  timeoutMs: number;
  /** V8 old-generation heap of each worker */
  memoryMb: number;
  /** a worker with nothing to do for this long exits; the next mail starts one (default 60 s) */
  idleMs?: number;
  /** a worker that has read a mail this large exits after it (default 4 MiB) */
  retireAfterBytes?: number;
}

export interface ParsePool {
  parse(raw: Buffer): Promise<ParsedMail>;
  /** worker threads running now (0 before the first mail and after they have all gone idle) */
  threads(): number;
  close(): Promise<void>;
}

interface Job { id: number; raw: Buffer; resolve(parsed: ParsedMail): void }
interface Slot { worker: Worker; job: Job | null; timer: NodeJS.Timeout | null; idle: NodeJS.Timeout | null }

const WORKER = new URL("./parse-worker.ts", import.meta.url);

// Resident memory (issue 7): each worker is a V8 isolate of about 30 MiB with mailparser loaded, and
// V8 gives back little of a heap that grew for a large mail. So workers start with the first mail, not
// with the gateway; one idle for IDLE_MS exits; one that has read a large mail exits right after it.
const IDLE_MS = 60_000;
const RETIRE_AFTER_BYTES = 4 * 1024 * 1024;

export function createParsePool(config: ParsePoolConfig, deps: { log: Logger }): ParsePool {
  const idleMs = config.idleMs ?? IDLE_MS;
  const retireAfterBytes = config.retireAfterBytes ?? RETIRE_AFTER_BYTES;
  const slots: Slot[] = [];
  const queue: Job[] = [];
  let nextId = 1;
  let closed = false;

  const finish = (slot: Slot, parsed: ParsedMail) => {
    const job = slot.job;
    if (slot.timer) clearTimeout(slot.timer);
    slot.job = null;
    slot.timer = null;
    job?.resolve(parsed);
  };

  /** The slot's worker ends (the next mail starts another); any job must be finished first. */
  const retire = (slot: Slot) => {
    if (slot.idle) clearTimeout(slot.idle);
    slot.worker.removeAllListeners();
    slot.worker.on("error", () => undefined);
    void slot.worker.terminate();
    const at = slots.indexOf(slot);
    if (at !== -1) slots.splice(at, 1);
  };

  /** The worker is gone or stuck: its job gets the notice, a new worker takes the slot. */
  const replace = (slot: Slot, reason: string) => {
    const job = slot.job;
    if (job) deps.log.warn({ reason, size: job.raw.length }, "mail could not be parsed in full; kept raw");
    if (job) finish(slot, unreadMail(job.raw, reason));
    retire(slot);
    pump();
  };

  /** A job done: the worker waits for the next (and exits after idleMs), or exits now after a large mail. */
  const done = (slot: Slot, size: number) => {
    if (size >= retireAfterBytes) retire(slot);
    else {
      slot.idle = setTimeout(() => retire(slot), idleMs);
      slot.idle.unref();
    }
    pump();
  };

  const spawn = (): Slot => {
    const worker = new Worker(WORKER, {
      workerData: { timeoutMs: config.timeoutMs },
      resourceLimits: { maxOldGenerationSizeMb: config.memoryMb, maxYoungGenerationSizeMb: 8 },
    });
    worker.unref();
    const slot: Slot = { worker, job: null, timer: null, idle: null };
    worker.on("message", (response: ParseResponse) => {
      const job = slot.job;
      if (!job || job.id !== response.id) return;
      if ("parsed" in response) finish(slot, response.parsed);
      else finish(slot, unreadMail(job.raw, `the parser gave up: ${response.error}`));
      done(slot, job.raw.length);
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
      if (slot.idle) clearTimeout(slot.idle);
      slot.idle = null;
      slot.job = job;
      slot.timer = setTimeout(() => replace(slot, `it took longer than ${config.timeoutMs / 1000} s to decode`), config.timeoutMs);
      slot.timer.unref();
      // A large mail is in shared memory (raw-buffer.ts) that nobody writes any more: the worker reads
      // the same bytes. Otherwise a copy the worker owns (transferred, not cloned again): the caller
      // keeps its buffer to store.
      const shared = job.raw.buffer instanceof SharedArrayBuffer;
      const bytes = shared ? job.raw : new Uint8Array(job.raw);
      slot.worker.ref();
      slot.worker.postMessage({ id: job.id, raw: bytes } satisfies ParseRequest, shared ? [] : [bytes.buffer as ArrayBuffer]);
    }
    for (const s of slots) if (!s.job) s.worker.unref();
  };

  return {
    parse(raw) {
      if (closed) return Promise.reject(new Error("parse pool closed"));
      return new Promise((resolve) => {
        queue.push({ id: nextId++, raw, resolve });
        pump();
      });
    },
    threads: () => slots.length,
    async close() {
      closed = true;
      for (const job of queue.splice(0)) job.resolve(unreadMail(job.raw, "the gateway was stopping"));
      const all = slots.splice(0);
      for (const s of all) {
        if (s.idle) clearTimeout(s.idle);
        s.worker.removeAllListeners();
        if (s.job) finish(s, unreadMail(s.job.raw, "the gateway was stopping"));
      }
      await Promise.all(all.map((s) => s.worker.terminate()));
    },
  };
}

/** A mail the pool could not parse in time or memory: kept raw, shown with a notice saying so. */
export function unreadMail(raw: Buffer, reason: string): ParsedMail {
  return unreadable(raw, `[This mail could not be read in full (${reason}); the original is kept by the gateway.]`);
}
