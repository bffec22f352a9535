// The delivery table as a queue, against the real PostgreSQL: claims are exclusive under concurrency,
// leases expire, bounces retry or fail, and workers are woken by NOTIFY.
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { describe, it } from "node:test";
import { createLogger } from "../../src/log.ts";
import { openDatabase } from "../../src/store/db.ts";
import { createTestDatabase } from "../support/postgres.ts";
import { useQueueDatabase } from "../support/queue-db.ts";
import { waitFor } from "../support/wait.ts";

describe("the delivery queue on PostgreSQL", () => {
  const q = useQueueDatabase();

  it("applies migrations once, however many instances start together", async () => {
    const fresh = await createTestDatabase();
    try {
      const instances = await Promise.all([1, 2, 3, 4].map(() =>
        openDatabase({ databaseUrl: fresh.url, dataDir: "/nonexistent", role: "serve", log: createLogger("silent") })));
      const applied = await Promise.allSettled(instances.map((o) => o.migrate()));
      await Promise.all(instances.map((o) => o.close()));
      // All succeed (the others wait for the advisory lock, then find nothing to do); one applied it.
      assert.deepEqual(applied.map((r) => r.status), ["fulfilled", "fulfilled", "fulfilled", "fulfilled"]);
      const done = applied.flatMap((r) => (r.status === "fulfilled" ? r.value : []));
      const files = readdirSync(new URL("../../migrations/", import.meta.url)).filter((f) => f.endsWith(".ts")).sort();
      assert.deepEqual(done, files, "each migration applied by exactly one instance");
      const tables = await fresh.query<{ n: number }>("SELECT count(*)::int AS n FROM knex_migrations");
      assert.equal(tables[0]!.n, files.length);
    } finally {
      await fresh.drop();
    }
  });

  it("gives each delivery to exactly one of several concurrent workers, in id order within a claim", async () => {
    await q.db.knex("deliveries").delete();
    for (let i = 0; i < 20; i++) await q.accept(10); // 200 deliveries
    const workers = Array.from({ length: 8 }, (_, i) => `w${i}`);
    const seen = new Map<number, string>();
    for (;;) {
      const claims = await Promise.all(workers.map(async (w) => ({ w, rows: await q.deliveries.claim(w, 7, 60) })));
      if (claims.every((c) => c.rows.length === 0)) break;
      for (const { w, rows } of claims) {
        assert.deepEqual(rows.map((r) => r.id), [...rows.map((r) => r.id)].sort((a, b) => a - b));
        for (const r of rows) {
          assert.equal(seen.has(r.id), false, `delivery ${r.id} claimed by ${seen.get(r.id)} and ${w}`);
          seen.set(r.id, w);
        }
      }
    }
    assert.equal(seen.size, 200);
    const counted = await q.db.knex("deliveries").where({ status: "sending" }).count<{ n: number }[]>("* as n");
    assert.equal(Number(counted[0]?.n), 200);
  });

  it("hands a delivery whose lease ran out to another worker; the first can no longer mark it", async () => {
    await q.db.knex("deliveries").delete();
    await q.accept(1);
    const [first] = await q.deliveries.claim("dead", 10, 1);
    assert.ok(first);
    assert.deepEqual(await q.deliveries.claim("alive", 10, 60), [], "leased: nobody else gets it");
    const second = await waitFor("the lease to run out", async () => (await q.deliveries.claim("alive", 10, 60))[0], 5000, 200);
    assert.notEqual(second.lease, first.lease, "a fresh lease per claim");
    assert.equal(await q.deliveries.markDelivered(first.lease, [first.id]), 0, "the dead worker lost it");
    assert.equal(await q.deliveries.markDelivered(second.lease, [first.id]), 1);
    const row = await q.db.knex("deliveries").where({ id: first.id }).first();
    assert.equal(row.status, "delivered");
    assert.equal(row.attempts, 2);
  });

  it("claims inbound deliveries with their stored mail and their mailbox's settings in one statement", async () => {
    await q.db.knex("deliveries").delete();
    await q.db.knex("mailboxes").insert({ address: "U0@jabber.test", jid: "u0@localhost", collapse_quotes: false, show_headers: true });
    await q.accept(2);
    const claimed = await q.deliveries.claim("w", 10, 60);
    assert.deepEqual(claimed.map((d) => d.recipient), ["u0@jabber.test", "u1@jabber.test"], "in id order");
    assert.deepEqual(claimed[0]!.settings, { collapseQuotes: false, showHeaders: true }, "matched case-insensitively");
    assert.equal(claimed[1]!.settings, null, "no mailbox row: the defaults");
    for (const d of claimed) {
      assert.equal(d.stored?.id, d.messageId);
      assert.equal(d.stored?.parsed.text, "t");
      assert.equal(d.stored?.mailFrom, "a@example.com");
      assert.ok(d.stored?.receivedAt instanceof Date);
      assert.equal(d.attempts, 1);
    }
    assert.deepEqual(await q.deliveries.claim("w", 10, 60), [], "leased: not claimed twice");
    await q.db.knex("mailboxes").where({ address: "U0@jabber.test" }).delete();
  });

  it("release gives rows back without counting an attempt", async () => {
    await q.db.knex("deliveries").delete();
    await q.accept(2);
    const rows = await q.deliveries.claim("w", 10, 60);
    assert.equal(await q.deliveries.release(rows[0]!.lease, rows.map((r) => r.id)), 2);
    const again = await q.deliveries.claim("w", 10, 60);
    assert.deepEqual(again.map((r) => [r.id, r.attempts]), rows.map((r) => [r.id, 1]));
  });

  const LIMITS = { schedule: [30, 60], maxAgeSeconds: 3600, maxAttempts: 10, windowSeconds: 300 };
  const error = (stanzaId: string, permanent: boolean, why: string, from = "u0@localhost/phone") => ({ stanzaId, from, permanent, why });
  const row = (id: number) => q.db.knex("deliveries").where({ id }).first("status", "attempts", "delivered_at", "last_error", "next_attempt_at");

  it("a temporary bounce schedules a retry, a permanent one fails; both keep the reason", async () => {
    await q.db.knex("deliveries").delete();
    await q.accept(2);
    const [a, b] = await q.deliveries.claim("w", 10, 60);
    await q.deliveries.markDelivered(a!.lease, [a!.id, b!.id]);
    const wait = await q.deliveries.bounce(error(a!.stanzaId, false, "xmpp wait/resource-constraint"), LIMITS);
    assert.equal(wait?.status, "pending");
    const cancel = await q.deliveries.bounce(error(b!.stanzaId, true, "xmpp cancel/service-unavailable", "u1@localhost"), LIMITS);
    assert.equal(cancel?.status, "failed");
    const rows = await q.db.knex("deliveries").orderBy("id").select("status", "last_error", "next_attempt_at");
    assert.equal(rows[0].last_error, "xmpp wait/resource-constraint");
    assert.ok(rows[0].next_attempt_at.getTime() > Date.now() + 20_000, "not before the backoff");
    assert.equal(rows[1].last_error, "xmpp cancel/service-unavailable");
    assert.deepEqual(await q.deliveries.claim("w", 10, 60), [], "neither is due now");
    assert.equal(await q.deliveries.bounce(error(b!.stanzaId, false, "again", "u1@localhost"), LIMITS), undefined, "a failed row stays failed");
    assert.equal(await q.deliveries.bounce(error(a!.stanzaId, false, "again"), LIMITS), undefined,
      "a pending row is not moved by another wait: one re-queue per attempt");
  });

  it("an error counts only from the recipient (bare or full JID) or the recipient's server", async () => {
    await q.db.knex("deliveries").delete();
    await q.accept(1);
    const [a] = await q.deliveries.claim("w", 10, 60);
    await q.deliveries.markDelivered(a!.lease, [a!.id]);
    const before = await row(a!.id);
    for (const from of ["mallory@localhost", "mallory@localhost/u0@localhost", "u0@localhost.evil", "u0@elsewhere", "localhost.evil",
      "evil/localhost", "u1@localhost", "", "u0", "@localhost"]) {
      for (const permanent of [true, false]) {
        assert.equal(await q.deliveries.bounce(error(a!.stanzaId, permanent, "forged", from), LIMITS), undefined, `${from} ${permanent}`);
      }
    }
    assert.deepEqual(await row(a!.id), before, "nothing changed");
    assert.equal((await q.deliveries.bounce(error(a!.stanzaId, false, "server", "LocalHost"), LIMITS))?.status, "pending", "the server's domain");
    await q.db.knex("deliveries").where({ id: a!.id }).update({ status: "delivered", delivered_at: q.db.knex.fn.now() });
    assert.equal((await q.deliveries.bounce(error(a!.stanzaId, true, "own", "U0@LocalHost/Phone"), LIMITS))?.status, "failed", "a full JID of it");
  });

  it("an error changes only a delivery in flight: sending, or delivered within the window; never past the attempts", async () => {
    await q.db.knex("deliveries").delete();
    await q.accept(3);
    const [a, b, c] = await q.deliveries.claim("w", 10, 60);
    assert.equal((await q.deliveries.bounce(error(a!.stanzaId, false, "while sending"), LIMITS))?.status, "pending");
    assert.equal(await q.deliveries.markDelivered(a!.lease, [a!.id]), 0, "the worker's lease is gone with it");
    await q.deliveries.markDelivered(b!.lease, [b!.id, c!.id]);
    await q.db.knex("deliveries").where({ id: b!.id }).update({ delivered_at: q.db.knex.raw("now() - interval '6 minutes'") });
    const old = await row(b!.id);
    assert.equal(await q.deliveries.bounce(error(b!.stanzaId, false, "late wait", "u1@localhost"), LIMITS), undefined);
    assert.equal(await q.deliveries.bounce(error(b!.stanzaId, true, "late cancel", "u1@localhost"), LIMITS), undefined);
    assert.deepEqual(await row(b!.id), old, "delivered long ago: a replayed error changes nothing");
    await q.db.knex("deliveries").where({ id: c!.id }).update({ attempts: 10 });
    assert.equal((await q.deliveries.bounce(error(c!.stanzaId, false, "wait again", "u2@localhost"), LIMITS))?.status, "failed",
      "no more attempts: failed, not queued again");
    assert.equal((await q.deliveries.bounce(error(a!.stanzaId, true, "cancel after wait"), LIMITS))?.status, "failed",
      "a permanent error also fails a pending one");
  });

  it("a temporary bounce on a delivery older than the retry window fails it", async () => {
    await q.db.knex("deliveries").delete();
    await q.accept(1);
    const [a] = await q.deliveries.claim("w", 10, 60);
    await q.db.knex("deliveries").update({ created_at: q.db.knex.raw("now() - interval '3 days'") });
    assert.equal((await q.deliveries.bounce(error(a!.stanzaId, false, "xmpp wait/resource-constraint"), { ...LIMITS, maxAgeSeconds: 2 * 86400 }))?.status, "failed");
  });

  it("wakes a listener when a delivery is inserted or re-driven, including from plain SQL, naming what changed", async () => {
    const notices: string[] = [];
    const unlisten = await q.db.listen((notice) => { notices.push(notice); });
    try {
      await waitFor("the listener connected", () => notices.includes("all"), 5000);
      const count = (n: string) => notices.filter((x) => x === n).length;
      await q.accept(1);
      await waitFor("an inbound NOTIFY after insert", () => count("inbound") === 1, 5000);
      const failed = await q.db.knex("deliveries").update({ status: "failed" }).returning("id");
      await q.deliveries.retry(failed[0].id);
      await waitFor("a NOTIFY after queue retry", () => count("inbound") === 2, 5000);
      await q.db.knex("mailboxes").insert({ address: "notice@jabber.test", jid: "notice@localhost" });
      await q.db.knex.raw("UPDATE mailboxes SET enabled = false WHERE address = 'notice@jabber.test'");
      await waitFor("a mailboxes NOTIFY per change", () => count("mailboxes") === 2, 5000);
      assert.equal(count("outbound"), 0, "nothing outbound happened");
    } finally {
      await unlisten();
    }
  });
});
