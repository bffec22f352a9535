// Runs per key in submitted order (queue/batches.ts): what arrives while a run is handled forms the next.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createOrderedBatches } from "../../../src/queue/batches.ts";

describe("createOrderedBatches", () => {
  it("a key's items are handled in submitted order, in runs of at most max; each gets its own answer", async () => {
    const runs: string[][] = [];
    const submit = createOrderedBatches<string, string>({ max: 3 }, async (key, run) => {
      runs.push(run.map((i) => `${key}:${i}`));
      await new Promise((r) => setTimeout(r, 5));
      return run.map((i) => i.toUpperCase());
    });
    const answers = await Promise.all(["a", "b", "c", "d", "e"].map((i) => submit("k", i)));
    assert.deepEqual(answers, ["A", "B", "C", "D", "E"]);
    // The first item finds nothing running and goes alone; the next four wait and form runs of ≤ 3.
    assert.deepEqual(runs, [["k:a"], ["k:b", "k:c", "k:d"], ["k:e"]]);
  });

  it("keys do not wait for each other; one run at a time per key", async () => {
    const open = new Map<string, number>();
    let overlapSameKey = false;
    const order: string[] = [];
    const submit = createOrderedBatches<number, number>({ max: 2 }, async (key, run) => {
      if (open.get(key)) overlapSameKey = true;
      open.set(key, 1);
      order.push(key);
      await new Promise((r) => setTimeout(r, 5));
      open.set(key, 0);
      return run;
    });
    await Promise.all([1, 2, 3, 4].flatMap((n) => [submit("x", n), submit("y", n)]));
    assert.equal(overlapSameKey, false);
    assert.deepEqual(order.slice(0, 2), ["x", "y"], "y's first run does not wait for x's");
  });

  it("a failed run fails its items only; the key goes on with the next", async () => {
    const submit = createOrderedBatches<number, number>({ max: 10 }, async (_key, run) => {
      if (run.includes(1)) throw new Error("database down");
      return run;
    });
    const first = submit("k", 1);
    const second = submit("k", 2);
    await assert.rejects(first, /database down/);
    assert.equal(await second, 2);
  });
});
