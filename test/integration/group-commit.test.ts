// Group commit in the message store: concurrent mails share transactions, each resolves only once its
// own rows are committed, and one mail that cannot be stored does not fail the ones beside it.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { createLogger } from "../../src/log.ts";
import { openDatabase, type Database } from "../../src/store/db.ts";
import { createMessageStore } from "../../src/store/messages.ts";
import type { ParsedMail, PlannedDelivery } from "../../src/core/types.ts";
import { createTestDatabase, type TestDatabase } from "../support/postgres.ts";

const parsed: ParsedMail = { subject: "s", fromAddress: "a@example.com", fromName: null, messageId: null, date: null,
  text: "t", fromHtml: false, attachments: [] };
const mailbox = (n: number): PlannedDelivery => ({ kind: "mail", recipient: `u${n}@jabber.test`, jid: `u${n}@localhost`, originStanzaId: null });
const mail = (deliveries: PlannedDelivery[]) => ({ mailFrom: "a@example.com", remoteAddress: null, helo: null,
  raw: Buffer.from("Subject: s\r\n\r\nt\r\n"), parsed, deliveries });

describe("accepting many mails at once", () => {
  let pgdb: TestDatabase;
  let db: Database;

  before(async () => {
    pgdb = await createTestDatabase();
    db = await openDatabase({ databaseUrl: pgdb.url, dataDir: "/nonexistent", role: "serve", log: createLogger("silent") });
    await db.migrate();
  });
  after(async () => {
    await db?.close();
    await pgdb?.drop();
  });

  it("stores every one of 200 concurrent mails with its own deliveries, committed when accept resolves", async () => {
    const store = createMessageStore(db.knex);
    const results = await Promise.all(Array.from({ length: 200 }, (_, i) => store.accept(mail([mailbox(i), mailbox(i + 1000)]))
      .then(async (r) => {
        // Visible from another connection as soon as accept resolves: committed, not merely queued.
        const rows = await pgdb.query<{ recipient: string; stanza_id: string }>(
          "SELECT recipient, stanza_id FROM deliveries WHERE message_id = $1 ORDER BY id", [r.id]);
        return { ...r, i, rows };
      })));
    assert.equal(new Set(results.map((r) => r.id)).size, 200);
    for (const r of results) {
      assert.deepEqual(r.rows.map((d) => d.recipient), [`u${r.i}@jabber.test`, `u${r.i + 1000}@jabber.test`]);
      // Each its own random id, unrelated to the queue token (docs/design.md §Who speaks for a delivery).
      for (const d of r.rows) assert.match(d.stanza_id, /^[0-9a-hjkmnp-tv-z]{26}$/);
    }
    const ids = results.flatMap((r) => r.rows.map((d) => d.stanza_id));
    assert.equal(new Set(ids).size, 400, "no stanza id twice");
    const tokens = await pgdb.query<{ id: number; token: string }>("SELECT id, token FROM messages");
    assert.deepEqual(new Map(tokens.map((t) => [Number(t.id), t.token])), new Map(results.map((r) => [r.id, r.token])));
  });

  it("a mail that cannot be stored fails alone; the others in its group are stored", async () => {
    const store = createMessageStore(db.knex);
    const bad = { ...mailbox(1), jid: null as unknown as string }; // deliveries.jid is NOT NULL
    const outcomes = await Promise.allSettled(Array.from({ length: 30 }, (_, i) => store.accept(mail(i === 7 ? [bad] : [mailbox(i)]))));
    assert.deepEqual(outcomes.map((o) => o.status), outcomes.map((_, i) => (i === 7 ? "rejected" : "fulfilled")));
    for (const o of outcomes) {
      if (o.status !== "fulfilled") continue;
      const [row] = await pgdb.query<{ n: number }>("SELECT count(*)::int AS n FROM deliveries WHERE message_id = $1", [o.value.id]);
      assert.equal(row!.n, 1);
    }
    const [count] = await pgdb.query<{ n: number }>("SELECT count(*)::int AS n FROM messages");
    assert.equal(count!.n, 200 + 29, "nothing stored of the failed mail (its transaction was rolled back)");
  });
});
