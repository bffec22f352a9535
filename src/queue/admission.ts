// The sending limit checked before a run's work starts (docs/design.md §Budgets): each message takes a
// place under its mailbox's limit, in order, before its file is fetched or its mail composed; a message with
// no place left is refused without any of that work. A place is kept once the mail is queued and given back
// when its work fails, so the next message in order may have it: one that finds every remaining place taken
// by work still under way waits for that work rather than being refused.
//
// The counts come from the database once a run (store/outbound.ts sentCounts); a sender's runs are taken one
// at a time (queue/batches.ts), so within a gateway the places of one run are all that is not yet counted.
// Another gateway instance serving the same sender at the same moment is not seen here: queue() checks
// again under the per-mailbox lock and holds the limit exactly, and what such a race costs is bounded by
// one limit's worth of fetches per instance.
import type { SendLimit } from "../core/types.ts";

export interface Place {
  /** the mail is queued (or found over the limit by queue()): the place stays counted */
  keep(): void;
  /** its work failed: the place goes to the next message */
  giveBack(): void;
}

export type Admitted = { place: Place } | { over: "minute" | "day" };

interface Box { minute: number; day: number; pending: number; changed: (() => void)[] }

export function createAdmission(limit: SendLimit, counts: Map<string, { minute: number; day: number }>) {
  const boxes = new Map<string, Box>();
  const box = (mailbox: string): Box => {
    const key = mailbox.toLowerCase();
    let b = boxes.get(key);
    if (!b) {
      const c = counts.get(key) ?? { minute: 0, day: 0 };
      b = { minute: c.minute, day: c.day, pending: 0, changed: [] };
      boxes.set(key, b);
    }
    return b;
  };
  const settle = (b: Box) => {
    b.pending--;
    for (const wake of b.changed.splice(0)) wake();
  };
  const full = (b: Box): "minute" | "day" | null =>
    limit.perMinute > 0 && b.minute + b.pending >= limit.perMinute ? "minute"
      : limit.perDay > 0 && b.day + b.pending >= limit.perDay ? "day" : null;

  /** A place, at once when one is free (no await: a run of texts is admitted in one go), else in turn. */
  function admit(mailbox: string): Admitted | Promise<Admitted> {
    const b = box(mailbox);
    const over = full(b);
    if (over && b.pending > 0) return new Promise<void>((wake) => b.changed.push(wake)).then(() => admit(mailbox));
    if (over) return { over };
    b.pending++;
    let done = false;
    return {
      place: {
        keep() {
          if (done) return;
          done = true;
          b.minute++;
          b.day++;
          settle(b);
        },
        giveBack() {
          if (done) return;
          done = true;
          settle(b);
        },
      },
    };
  }
  return admit;
}
