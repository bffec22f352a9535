// The outgoing queue (store/outbound.ts) on a real PostgreSQL: a run of mails in one transaction with the
// sending limit counted in order, exact across gateway instances (two pools here), and the relay's claim
// that returns each mail's bytes with its delivery.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { createLogger } from "../../src/log.ts";
import { openDatabase, type Database } from "../../src/store/db.ts";
import { createDeliveryStore } from "../../src/store/deliveries.ts";
import { createOutboundStore } from "../../src/store/outbound.ts";
import type { QueuedMail } from "../../src/core/types.ts";
import { createTestDatabase, type TestDatabase } from "../support/postgres.ts";
import { waitFor } from "../support/wait.ts";

let n = 0;
const mail = (mailbox: string, to = "alice@example.com"): QueuedMail => {
  const token = `tok${String(++n).padStart(8, "0")}`;
  const bounceSecret = `secret${String(n).padStart(20, "0")}`;
  return { token, mailbox, mailFrom: `bounces+${bounceSecret}@jabber.test`, bounceSecret, to, subject: "s", body: `mail ${n}`,
    messageId: `${token}@jabber.test`, raw: Buffer.from(`Subject: s\r\n\r\nmail ${n}\r\n`), jid: "u@localhost/r",
    originStanzaId: `c${n}`, receiptRequested: false };
};

describe("the outgoing queue", () => {
  let pgdb: TestDatabase;
  let one: Database;
  let two: Database;

  before(async () => {
    pgdb = await createTestDatabase();
    const open = () => openDatabase({ databaseUrl: pgdb.url, dataDir: "/nonexistent", role: "serve", log: createLogger("silent") });
    one = await open();
    await one.migrate();
    two = await open();
  });
  after(async () => {
    await one?.close();
    await two?.close();
    await pgdb?.drop();
  });

  it("a run is answered in order: the limit refuses the later ones, other mailboxes are counted apart", async () => {
    const store = createOutboundStore(one.knex);
    const run = [mail("a@jabber.test"), mail("b@jabber.test"), mail("A@jabber.test"), mail("a@jabber.test"), mail("b@jabber.test")];
    const results = await store.queue(run, { perMinute: 2, perDay: 0 });
    assert.deepEqual(results.map((r) => ("queued" in r ? "queued" : r.over)), ["queued", "queued", "queued", "minute", "queued"]);
    const rows = await pgdb.query<{ id: number; origin: string }>(
      "SELECT id, origin_stanza_id AS origin FROM deliveries WHERE direction = 'outbound' ORDER BY id");
    assert.deepEqual(rows.map((r) => r.origin), ["c1", "c2", "c3", "c5"], "queued in the order given");
    assert.deepEqual(results.filter((r) => "queued" in r).map((r) => "queued" in r && r.queued), rows.map((r) => Number(r.id)));
    const daily = await store.queue([mail("b@jabber.test")], { perMinute: 0, perDay: 2 });
    assert.deepEqual(daily, [{ over: "day" }]);
  });

  it("two instances queueing runs for one mailbox at once never pass the limit together", async () => {
    const stores = [createOutboundStore(one.knex), createOutboundStore(two.knex)];
    const limit = { perMinute: 7, perDay: 0 };
    const answers = (await Promise.all(Array.from({ length: 10 }, (_, i) =>
      stores[i % 2]!.queue([mail("c@jabber.test"), mail("c@jabber.test")], limit)))).flat();
    assert.equal(answers.filter((r) => "queued" in r).length, 7);
    const [{ count }] = await pgdb.query<{ count: number }>(
      "SELECT count(*)::int AS count FROM messages WHERE direction = 'outbound' AND lower(from_address) = 'c@jabber.test'") as [{ count: number }];
    assert.equal(count, 7);
  });

  it("the claim leases due mail once, oldest first, with its bytes and envelope sender", async () => {
    const store = createOutboundStore(one.knex);
    const [first, second] = await Promise.all([store.claim("w1", 3, 60), createOutboundStore(two.knex).claim("w2", 100, 60)]);
    const all = [...first!, ...second!];
    assert.equal(new Set(all.map((d) => d.id)).size, all.length, "no delivery claimed twice");
    assert.equal(all.length, 4 + 7);
    for (const d of all) {
      assert.ok(Buffer.isBuffer(d.raw) && d.raw.toString().startsWith("Subject: s"));
      assert.match(d.mailFrom ?? "", /^bounces\+secret\d+@jabber\.test$/);
    }
    // Each delivery keeps the secret its bounce address names, and a random stanza id of its own.
    const rows = await pgdb.query<{ bounce_secret: string; stanza_id: string; mail_from: string; token: string }>(`
      SELECT d.bounce_secret, d.stanza_id, m.mail_from, m.token FROM deliveries d JOIN messages m ON m.id = d.message_id
      WHERE d.direction = 'outbound'`);
    for (const r of rows) {
      assert.equal(r.mail_from, `bounces+${r.bounce_secret}@jabber.test`);
      assert.match(r.stanza_id, /^[0-9a-hjkmnp-tv-z]{26}$/);
      assert.ok(!r.stanza_id.includes(r.token));
    }
    assert.deepEqual(first!.map((d) => d.id), [...first!.map((d) => d.id)].sort((a, b) => a - b));
    assert.deepEqual(await store.claim("w3", 10, 60), [], "leased rows are not due");
  });

  it("the relay's claim is leased like the inbound one: a late outcome of a lost lease changes nothing", async () => {
    const store = createOutboundStore(one.knex);
    const deliveries = createDeliveryStore(one.knex);
    await pgdb.query("DELETE FROM deliveries");
    await store.queue([mail("d@jabber.test")], { perMinute: 0, perDay: 0 });
    const [a] = await store.claim("relay-a", 10, 1);
    assert.match(a!.lease, /^[0-9a-f]{32}$/);
    const [b] = await waitFor("relay A's lease to run out", async () => {
      const rows = await createOutboundStore(two.knex).claim("relay-b", 10, 60);
      return rows.length ? rows : null;
    }, 10_000, 200);
    assert.equal(b!.id, a!.id);
    assert.equal(await deliveries.fail(a!.lease, a!.id, "late refusal"), 0);
    assert.equal(await deliveries.retryLater(a!.lease, a!.id, 60, "late delay", true), 0);
    assert.equal(await deliveries.markDelivered(b!.lease, [b!.id]), 1);
    const [row] = await pgdb.query<{ status: string; last_error: string | null }>("SELECT status, last_error FROM deliveries WHERE id = $1", [a!.id]);
    assert.deepEqual(row, { status: "delivered", last_error: null });
  });
});
