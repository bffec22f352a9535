// The pruner (docs/design.md §What is stored): one pass clears the content of mail older than
// RETENTION_DAYS, then deletes what is left of mail older than THREAD_DAYS, batch after batch with a
// pause between two, each batch its own short transaction (store/retention.ts). It runs in its own
// loop, beside the queue's, on every instance: SKIP LOCKED shares the work.
import type { Logger } from "../log.ts";
import type { BatchResult, Cursor } from "../store/retention.ts";

export interface PruneConfig { days: number; threadDays: number; batch: number; pauseMs: number }

export interface PruneDeps {
  log: Logger;
  expire(before: Date, after: Cursor | null, batch: number, now: Date): Promise<BatchResult>;
  forget(before: Date, after: Cursor | null, batch: number): Promise<BatchResult>;
  now(): Date;
}

export interface PruneTotals { cleared: number; deleted: number; waiting: number; batches: number }

const DAY_MS = 86_400_000;

const pause = (ms: number, signal?: AbortSignal) => new Promise<void>((resolve) => {
  if (ms <= 0 || signal?.aborted) return resolve();
  const timer = setTimeout(done, ms);
  function done() {
    clearTimeout(timer);
    signal?.removeEventListener("abort", done);
    resolve();
  }
  signal?.addEventListener("abort", done, { once: true });
});

/** One whole pass (every batch due at `deps.now()`); stops between batches when `signal` aborts. */
export function createPrunePass(config: PruneConfig, deps: PruneDeps) {
  return async (signal?: AbortSignal): Promise<PruneTotals> => {
    const now = deps.now();
    const totals: PruneTotals = { cleared: 0, deleted: 0, waiting: 0, batches: 0 };
    const steps = [
      (after: Cursor | null) => deps.expire(new Date(now.getTime() - config.days * DAY_MS), after, config.batch, now),
      (after: Cursor | null) => deps.forget(new Date(now.getTime() - config.threadDays * DAY_MS), after, config.batch),
    ];
    for (const step of steps) {
      for (let after: Cursor | null = null; !signal?.aborted;) {
        const r = await step(after);
        totals.batches++;
        totals.cleared += r.cleared;
        totals.deleted += r.deleted;
        totals.waiting += r.waiting;
        // A short batch is the last (rows other instances hold are theirs to prune).
        if (r.seen < config.batch) break;
        after = r.cursor;
        await pause(config.pauseMs, signal);
      }
    }
    if (totals.cleared + totals.deleted > 0) deps.log.info({ ...totals }, "pruned stored mail (RETENTION_DAYS, THREAD_DAYS)");
    return totals;
  };
}
