// Leases on the real PostgreSQL (docs/design.md §Delivery state machine): a worker whose lease ran out and
// whose rows another worker claimed can no longer change them, whatever it says late; renewal keeps a row
// ours; a lost lease is noticed at the next renewal.
import assert from "node:assert/strict";
import { beforeEach, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { createLogger } from "../../src/log.ts";
import { holdLease } from "../../src/queue/lease.ts";
import { useQueueDatabase } from "../support/queue-db.ts";
import { waitFor } from "../support/wait.ts";

describe("leases on PostgreSQL", () => {
  const q = useQueueDatabase();
  beforeEach(async () => {
    await q.db.knex("deliveries").delete();
  });

  const row = async (id: number) => q.db.knex("deliveries").where({ id }).first();

  /** A claims with a 1 s lease and stops; B claims the same rows once it has run out. */
  async function takenOver(n: number) {
    await q.accept(n);
    const a = await q.deliveries.claim("worker-a", 10, 1);
    assert.equal(a.length, n);
    assert.deepEqual(await q.deliveries.claim("worker-b", 10, 60), [], "A's lease still runs");
    const b = await waitFor("A's lease to run out and B to claim", async () => {
      const rows = await q.deliveries.claim("worker-b", 10, 60);
      return rows.length ? rows : null;
    }, 10_000, 200);
    assert.deepEqual(b.map((d) => d.id), a.map((d) => d.id));
    return { a, b, lease: { a: a[0]!.lease, b: b[0]!.lease } };
  }

  it("gives every claim a fresh random lease of at least 128 bits, the same for its rows", async () => {
    await q.accept(3);
    const first = await q.deliveries.claim("w", 2, 60);
    const second = await q.deliveries.claim("w", 2, 60);
    assert.equal(new Set(first.map((d) => d.lease)).size, 1);
    assert.match(first[0]!.lease, /^[0-9a-f]{32}$/);
    assert.notEqual(first[0]!.lease, second[0]!.lease, "the same worker, another claim: another lease");
    assert.equal((await row(first[0]!.id)).locked_by, "w", "locked_by still says which worker");
  });

  it("A's late outcomes after B claimed change nothing; B's outcome stands", async () => {
    const { a, lease } = await takenOver(2);
    const [one, two] = [a[0]!.id, a[1]!.id];
    assert.equal(await q.deliveries.markDelivered(lease.a, [one, two]), 0);
    assert.equal(await q.deliveries.fail(lease.a, one, "late failure"), 0);
    assert.equal(await q.deliveries.retryLater(lease.a, one, 600, "late retry", true), 0);
    assert.equal(await q.deliveries.release(lease.a, [one, two]), 0);
    assert.deepEqual(await q.deliveries.renew(lease.a, [one, two], 600), []);
    for (const id of [one, two]) {
      const r = await row(id);
      assert.equal(r.status, "sending");
      assert.equal(r.lease, lease.b);
      assert.equal(r.locked_by, "worker-b");
      assert.equal(r.last_error, null);
      assert.equal(r.attempts, 2, "A's release did not take back B's attempt");
    }
    // B decides: one delivered, one failed. A, later still, says the opposite: nothing changes.
    assert.equal(await q.deliveries.markDelivered(lease.b, [one]), 1);
    assert.equal(await q.deliveries.fail(lease.b, two, "the server refused it"), 1);
    assert.equal(await q.deliveries.fail(lease.a, one, "late failure"), 0);
    assert.equal(await q.deliveries.markDelivered(lease.a, [two]), 0);
    assert.equal(await q.deliveries.retryLater(lease.a, two, 1, "late retry", false), 0);
    assert.equal((await row(one)).status, "delivered");
    assert.deepEqual([(await row(two)).status, (await row(two)).last_error], ["failed", "the server refused it"]);
    // Nor can B itself change a row twice: an outcome leaves `sending`.
    assert.equal(await q.deliveries.release(lease.b, [one, two]), 0);
  });

  it("a group outcome changes only the rows still held under its lease", async () => {
    await q.accept(2);
    const claimed = await q.deliveries.claim("w", 10, 60);
    // The admin re-drives one (queue retry: unguarded on purpose), which ends the worker's hold on it.
    assert.equal(await q.deliveries.retry(claimed[1]!.id), true);
    assert.equal(await q.deliveries.markDelivered(claimed[0]!.lease, claimed.map((d) => d.id)), 1);
    assert.deepEqual([(await row(claimed[0]!.id)).status, (await row(claimed[1]!.id)).status], ["delivered", "pending"]);
  });

  it("renewal keeps a row from being claimed past its first lease", async () => {
    await q.accept(1);
    const [a] = await q.deliveries.claim("worker-a", 10, 1);
    assert.deepEqual(await q.deliveries.renew(a!.lease, [a!.id], 60), [a!.id]);
    await sleep(1500); // past the claim's own second
    assert.deepEqual(await q.deliveries.claim("worker-b", 10, 60), [], "renewed: still A's");
    assert.equal(await q.deliveries.markDelivered(a!.lease, [a!.id]), 1);
  });

  it("a running hold renews the lease every third of it: another worker never gets the row meanwhile", async () => {
    await q.accept(1);
    const [a] = await q.deliveries.claim("worker-a", 10, 2);
    const hold = holdLease({ leaseSeconds: 2, name: "test" }, { log: createLogger("silent"), renew: (...x) => q.deliveries.renew(...x) },
      a!.lease, [a!.id]);
    try {
      const deadline = Date.now() + 4000; // twice the lease: without renewals B would have it
      while (Date.now() < deadline) {
        assert.deepEqual(await q.deliveries.claim("worker-b", 10, 60), [], "held by A's renewals");
        await sleep(200);
      }
      assert.equal(hold.has(a!.id), true);
    } finally {
      await hold.stop();
    }
    assert.deepEqual(hold.settle([a!.id]), [a!.id]);
    assert.equal(await q.deliveries.markDelivered(a!.lease, [a!.id]), 1);
  });

  it("a lost lease is noticed at the next renewal: the hold drops the row", async () => {
    await q.accept(2);
    const claimed = await q.deliveries.claim("worker-a", 10, 1);
    const warnings: string[] = [];
    const log = createLogger("warn", { write: (line: string) => { warnings.push(JSON.parse(line).msg); } });
    const hold = holdLease({ leaseSeconds: 1, name: "test" }, { log, renew: (...x) => q.deliveries.renew(...x) },
      claimed[0]!.lease, claimed.map((d) => d.id));
    try {
      // Taken from A: the admin re-drives it and worker B claims it at once.
      await q.deliveries.retry(claimed[0]!.id);
      const [b] = await q.deliveries.claim("worker-b", 10, 60);
      assert.equal(b?.id, claimed[0]!.id);
      await waitFor("the renewal to notice", () => !hold.has(claimed[0]!.id), 10_000);
      assert.equal(hold.has(claimed[1]!.id), true, "the other row is still ours");
      assert.ok(warnings.some((w) => /lease lost/.test(w)), "said at warn");
      assert.equal((await row(claimed[0]!.id)).lease, b!.lease);
    } finally {
      await hold.stop();
    }
  });
});
