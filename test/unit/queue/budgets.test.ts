// The byte budget (queue/byte-budget.ts), the admission under the sending limit (queue/admission.ts) and
// the ordered run (queue/in-order.ts): pure, no I/O.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createAdmission } from "../../../src/queue/admission.ts";
import { createByteBudget } from "../../../src/queue/byte-budget.ts";
import { workInOrder } from "../../../src/queue/in-order.ts";

const tick = () => new Promise((r) => setImmediate(r));

describe("createByteBudget", () => {
  it("grants while the bytes fit, then first come first served; a request larger than the whole runs alone", async () => {
    const budget = createByteBudget({ bytes: 100 });
    const a = await budget.acquire(60);
    const order: string[] = [];
    const b = budget.acquire(50).then((h) => (order.push("b"), h));
    const c = budget.acquire(10).then((h) => (order.push("c"), h));
    await tick();
    assert.deepEqual([...order], [], "c does not pass b, which waits");
    assert.equal(budget.waiting(), 2);
    a.release();
    const [hb, hc] = await Promise.all([b, c]);
    assert.deepEqual([...order], ["b", "c"]);
    assert.equal(budget.held(), 60);
    const huge = budget.acquire(500).then((h) => (order.push("huge"), h));
    await tick();
    assert.deepEqual([...order], ["b", "c"]);
    hb.release();
    hc.resize(30);
    hc.release();
    hc.release();
    const h = await huge;
    assert.equal(budget.held(), 500, "counted as asked, alone");
    h.release();
    assert.equal(budget.held(), 0);
  });
});

describe("createAdmission", () => {
  it("counts what the store counted, keeps places of queued mails, gives back failed ones to the next in order", async () => {
    const admit = createAdmission({ perMinute: 3, perDay: 100 }, new Map([["toto@x", { minute: 1, day: 1 }]]));
    const first = admit("Toto@x");
    const second = admit("toto@x");
    assert.ok(!(first instanceof Promise) && "place" in first);
    assert.ok(!(second instanceof Promise) && "place" in second);
    const third = admit("toto@x");
    assert.ok(third instanceof Promise, "every place is taken by work under way: wait for it");
    first.place.giveBack();
    const got = await third;
    assert.ok("place" in got, "the failed one's place goes to the next");
    second.place.keep();
    got.place.keep();
    assert.deepEqual(admit("toto@x"), { over: "minute" });
    assert.deepEqual(createAdmission({ perMinute: 0, perDay: 2 }, new Map([["a@x", { minute: 0, day: 2 }]]))("a@x"), { over: "day" });
    assert.ok("place" in (createAdmission({ perMinute: 0, perDay: 0 }, new Map())("a@x") as object), "0: no limit");
  });
});

describe("workInOrder", () => {
  it("refuses over the limit without preparing, fetches at most `window` at once, queues in order", async () => {
    const admit = createAdmission({ perMinute: 4, perDay: 100 }, new Map());
    let open = 0;
    let most = 0;
    const prepared: number[] = [];
    const queued: number[][] = [];
    const verdicts = await workInOrder<number, string>(8, {
      window: 2,
      admit: () => admit("a@x"),
      refuse: (i, over) => `over-${over}-${i}`,
      fetches: (i) => i % 2 === 0,
      prepare: async (i) => {
        prepared.push(i);
        if (i % 2 === 0) {
          most = Math.max(most, ++open);
          await new Promise((r) => setTimeout(r, 8 - i));
          open--;
        }
        if (i === 2) return { verdict: "fetch-failed-2" };
        return { mail: i, hold: null };
      },
      queue: async (mails) => (queued.push(mails), mails.map((m) => `queued-${m}`)),
      failed: () => "failed",
    });
    assert.deepEqual(verdicts, ["queued-0", "queued-1", "fetch-failed-2", "queued-3", "queued-4", "over-minute-5", "over-minute-6", "over-minute-7"]);
    assert.deepEqual(prepared.sort(), [0, 1, 2, 3, 4], "nothing over the limit was prepared");
    assert.ok(most <= 2, `${most} fetches at once`);
    assert.deepEqual(queued.flat(), [0, 1, 3, 4], "in order");
  });

  it("a group refused on the data is queued mail by mail; a failed queue gives the places back", async () => {
    const admit = createAdmission({ perMinute: 2, perDay: 100 }, new Map());
    const verdicts = await workInOrder<number, string>(3, {
      window: 2,
      admit: () => admit("a@x"),
      refuse: (i) => `over-${i}`,
      fetches: () => false,
      prepare: async (i) => ({ mail: i, hold: null }),
      queue: async (mails) => {
        if (mails.includes(0)) throw Object.assign(new Error("bad"), { code: "22P05" });
        return mails.map((m) => `queued-${m}`);
      },
      failed: () => "failed",
    });
    assert.deepEqual(verdicts, ["failed", "queued-1", "queued-2"], "the failed one's place went to the third");
  });
});
