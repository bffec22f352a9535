// Mail parsing in the worker pool (worker-pool.ts; docs/design.md §Parsing once): each accepted mail is
// read once, there, within a time and a heap limit.
//
// A mail that cannot be read in time or memory is still accepted: the raw bytes are stored (invariant: a
// 250 loses nothing) and the parsed form is a short notice saying so, which the user reads in the chat.
// Answering 451 instead would make the sender retry the same bomb forever.
import type { AttachmentPolicy } from "../core/attachments.ts";
import type { ParsedMail } from "../core/types.ts";
import type { Logger } from "../log.ts";
import type { MailRead } from "./parse.ts";
import { bytesForThread } from "./raw-buffer.ts";
import { unreadMail as unreadable } from "./unread.ts";
import { createWorkerPool, type WorkerPoolConfig } from "./worker-pool.ts";

export type ParsePoolConfig = WorkerPoolConfig & {
  /** gives each attachment its verdict in the same job (core/attachments.ts) */
  policy?: AttachmentPolicy;
};

export interface ParsePool {
  /** the one parse of a mail: its chat view, MIME structure and delivery report. `refusable`: rejected
   * with BudgetSpent (memory-budget.ts) when the pool's waiting queue is full, rather than waiting — for
   * mail still in its SMTP transaction, whose sender is answered `451 4.3.1` and retries. */
  read(raw: Buffer, options?: { refusable?: boolean }): Promise<MailRead>;
  threads(): number;
  close(): Promise<void>;
}

const WORKER = new URL("./parse-worker.ts", import.meta.url);

export function createParsePool(config: ParsePoolConfig, deps: { log: Logger }): ParsePool {
  const { policy, ...limits } = config;
  const pool = createWorkerPool({ ...limits, script: WORKER, name: "parse", workerData: policy ? { policy } : {} }, deps);
  const read = (raw: Buffer, options: { refusable?: boolean } = {}): Promise<MailRead> => {
    const { bytes, transfer } = bytesForThread(raw);
    return pool.run<MailRead>({
      payload: bytes, size: raw.length, transfer, refusable: options.refusable ?? false,
      fallback: (reason) => ({ mail: unreadMail(raw, reason), structure: null, report: null }),
    });
  };
  return {
    read,
    threads: () => pool.threads(),
    close: () => pool.close(),
  };
}

/** A mail the pool could not parse in time or memory: kept raw, shown with a notice saying so. */
export function unreadMail(raw: Buffer, reason: string): ParsedMail {
  return unreadable(raw, `[This mail could not be read in full (${reason}); the original is kept by the gateway.]`);
}
