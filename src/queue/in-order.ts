// One sender's run of messages, worked in order under the budgets (docs/design.md §Budgets):
// - each message first takes a place under the sending limit (queue/admission.ts); one over it is refused
//   before its file is fetched;
// - at most `window` messages that fetch a file are under way at once, from the fetch until their mail is
//   queued; the others wait in order;
// - a fetch asks for its memory (queue/byte-budget.ts) only after the one before it in the run got its own,
//   so a mail waiting to be queued behind an earlier one never holds memory that earlier one waits for;
// - mails are queued in the run's order (RFC 6120 §10.1), those ready together in one call, as soon as they
//   are ready: a mail never waits for a later fetch, so memory held for it is given back as soon as it can.
import { storeGroup } from "../store/group-commit.ts";
import type { Hold } from "./byte-budget.ts";
import type { Admitted } from "./admission.ts";
import type { Reserve } from "./fetch-file.ts";

export type Prepared<M, V> = { mail: M; hold: Hold | null } | { verdict: V };

export interface InOrderSteps<M, V> {
  window: number;
  admit(i: number): Admitted | Promise<Admitted>;
  refuse(i: number, over: "minute" | "day"): V;
  /** true when message i fetches a file */
  fetches(i: number): boolean;
  /** the mail of message i, or its verdict; `reserve` is given to a message that fetches */
  prepare(i: number, reserve: Reserve | undefined): Promise<Prepared<M, V>>;
  /** queue these mails in this order; one verdict each */
  queue(mails: M[]): Promise<V[]>;
  /** the verdict when preparing or queueing failed with this error */
  failed(err: unknown): V;
  memory?: Reserve;
}

interface Item<M, V> { fetches: boolean; settled: boolean; result: Promise<Prepared<M, V>>; leave(): void; keep(): void; giveBack(): void }

export async function workInOrder<M, V>(count: number, steps: InOrderSteps<M, V>): Promise<V[]> {
  const items: Item<M, V>[] = [];
  const verdicts: V[] = new Array(count);
  let wakeConsumer: () => void = () => {};
  const nudge = () => { const w = wakeConsumer; wakeConsumer = () => {}; w(); };
  let inWindow = 0;
  let windowFreed: () => void = () => {};
  let memoryTurn: Promise<void> = Promise.resolve();

  async function produce(): Promise<void> {
    for (let i = 0; i < count; i++) {
      let admitted = steps.admit(i);
      if (admitted instanceof Promise) { nudge(); admitted = await admitted; }
      const none = () => {};
      if ("over" in admitted) {
        const verdict = { verdict: steps.refuse(i, admitted.over) };
        items.push({ fetches: false, settled: true, result: Promise.resolve(verdict), leave: none, keep: none, giveBack: none });
        nudge();
        continue;
      }
      const place = admitted.place;
      const fetches = steps.fetches(i);
      let reserve: Reserve | undefined;
      let turnDone = none;
      if (fetches) {
        while (inWindow >= steps.window) { nudge(); await new Promise<void>((r) => (windowFreed = r)); }
        inWindow++;
        const before = memoryTurn;
        memoryTurn = new Promise<void>((r) => (turnDone = r));
        const memory = steps.memory;
        reserve = memory ? async (bytes) => { await before; try { return await memory(bytes); } finally { turnDone(); } } : undefined;
      }
      const item: Item<M, V> = {
        fetches, settled: false, result: null as never,
        leave: fetches ? () => { inWindow--; windowFreed(); } : none,
        keep: () => place.keep(), giveBack: () => place.giveBack(),
      };
      item.result = steps.prepare(i, reserve)
        .catch((err): Prepared<M, V> => ({ verdict: steps.failed(err) }))
        .finally(() => { turnDone(); item.settled = true; nudge(); });
      items.push(item);
    }
    nudge();
  }

  async function consume(): Promise<void> {
    let next = 0;
    while (next < count) {
      // Wait until the next message in order has been started.
      while (items.length <= next) await new Promise<void>((r) => (wakeConsumer = r));
      // It, and those after it already started that need no wait for a fetch, go together.
      const group: { i: number; item: Item<M, V>; prepared: Prepared<M, V> }[] = [];
      do {
        const item = items[next]!;
        group.push({ i: next, item, prepared: await item.result });
        next++;
      } while (next < items.length && (!items[next]!.fetches || items[next]!.settled));
      const mails = group.filter((g) => "mail" in g.prepared);
      // A group PostgreSQL refuses on the data is queued mail by mail: one bad mail cannot fail the others.
      const queued = await storeGroup((group: M[]) => steps.queue(group), mails.map((g) => (g.prepared as { mail: M }).mail));
      let k = 0;
      for (const g of group) {
        if ("verdict" in g.prepared) {
          verdicts[g.i] = g.prepared.verdict;
          g.item.giveBack();
        } else {
          const verdict = queued[k++]!;
          verdicts[g.i] = "error" in verdict ? steps.failed(verdict.error) : verdict.ok;
          if ("error" in verdict) g.item.giveBack(); else g.item.keep();
          g.prepared.hold?.release();
        }
        g.item.leave();
      }
    }
  }

  await Promise.all([produce(), consume()]);
  return verdicts;
}
