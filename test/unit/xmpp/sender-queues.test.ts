// Bounded per-sender queues (docs/design.md §Budgets): arrival order per sender, bounds per sender and
// overall, senders served in turn, and the event loop given back between turns.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { createSenderQueues } from "../../../src/xmpp/sender-queues.ts";

const noErrors = { onError: (err: Error) => assert.fail(err) };
const until = async (done: () => boolean) => {
  for (let i = 0; i < 1000 && !done(); i++) await sleep(1);
  assert.ok(done());
};

describe("sender queues", () => {
  it("one sender's tasks run one at a time, in order", async () => {
    const q = createSenderQueues({ perSender: 100, total: 100 }, noErrors);
    const seen: number[] = [];
    let running = 0;
    for (let i = 0; i < 40; i++) {
      assert.equal(q.push("a", async () => {
        assert.equal(running++, 0);
        await sleep(0);
        seen.push(i);
        running--;
      }), "queued");
    }
    await until(() => seen.length === 40);
    assert.deepEqual(seen, Array.from({ length: 40 }, (_, i) => i));
    await until(() => q.pending() === 0);
  });

  it("a full queue refuses its sender only; a full total refuses everyone", () => {
    const q = createSenderQueues({ perSender: 3, total: 5 }, noErrors);
    const hang = () => new Promise<void>(() => undefined);
    assert.deepEqual([1, 2, 3, 4].map(() => q.push("flood", hang)), ["queued", "queued", "queued", "queue"]);
    assert.deepEqual([1, 2, 3].map(() => q.push("other", hang)), ["queued", "queued", "busy"]);
    assert.equal(q.pending(), 5);
  });

  it("a flooder does not hold back another sender: turns alternate", async () => {
    const q = createSenderQueues({ perSender: 1000, total: 2000, concurrency: 1, chunk: 4 }, noErrors);
    const order: string[] = [];
    for (let i = 0; i < 100; i++) q.push("flood", async () => { order.push("f"); });
    q.push("mail", async () => { order.push("m"); });
    await until(() => order.length === 101);
    assert.ok(order.indexOf("m") <= 8, `the other sender waited for ${order.indexOf("m")} of the flood's stanzas`);
  });

  it("timers run during a flood of tasks that finish at once", async () => {
    const q = createSenderQueues({ perSender: 100_000, total: 100_000, chunk: 16 }, noErrors);
    let done = 0;
    for (let i = 0; i < 20_000; i++) q.push(`s${i % 3}`, async () => { done++; });
    let timerRan = -1;
    setTimeout(() => { timerRan = done; }, 0);
    await until(() => done === 20_000);
    assert.ok(timerRan >= 0 && timerRan < 20_000, `the timer ran after ${timerRan} of 20000 tasks`);
  });

  it("a failing task is reported and the next one still runs", async () => {
    const errors: string[] = [];
    const q = createSenderQueues({ perSender: 10, total: 10 }, { onError: (e) => errors.push(e.message) });
    let ran = false;
    q.push("a", async () => { throw new Error("boom"); });
    q.push("a", async () => { ran = true; });
    await until(() => ran);
    assert.deepEqual(errors, ["boom"]);
  });
});
