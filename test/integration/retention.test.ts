// Retention on a real PostgreSQL (docs/design.md §What is stored), with the clock injected: content goes
// after RETENTION_DAYS but a late reply still threads, delivered rows of other mail and failed rows go
// with their mail, nothing a waiting delivery needs is touched; batches are bounded and two pruners
// share the work; `mailbox purge` through the real CLI.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { ParsedMail, PlannedDelivery } from "../../src/core/types.ts";
import { createLogger } from "../../src/log.ts";
import { createPrunePass, type PruneConfig } from "../../src/queue/prune.ts";
import { openDatabase, type Database } from "../../src/store/db.ts";
import { createMessageStore } from "../../src/store/messages.ts";
import { createOutboundStore } from "../../src/store/outbound.ts";
import { createRetentionStore, type BatchResult } from "../../src/store/retention.ts";
import { createThreadStore } from "../../src/store/threads.ts";
import { createGateway } from "../support/gateway.ts";
import { createTestDatabase, type TestDatabase } from "../support/postgres.ts";

const DAY = 86_400_000;
const log = createLogger("silent");
const box = (n: number) => `u${n}@jabber.test`;
const to = (n: number, kind: "mail" | "report" = "mail"): PlannedDelivery => ({ kind, recipient: box(n), jid: `u${n}@localhost`, originStanzaId: null });
const parsed = (from: string, messageId: string): ParsedMail => ({ subject: `about ${messageId}`, fromAddress: from, fromName: "Someone",
  messageId, date: null, text: "the text", fromHtml: false, attachments: [], references: ["<older@example.com>"] });

describe("retention", () => {
  let pgdb: TestDatabase;
  let db: Database;
  let other: Database;
  let n = 0;

  before(async () => {
    pgdb = await createTestDatabase();
    const open = () => openDatabase({ databaseUrl: pgdb.url, dataDir: "/nonexistent", role: "serve", log });
    db = await open();
    await db.migrate();
    other = await open();
  });
  after(async () => {
    await db?.close();
    await other?.close();
    await pgdb?.drop();
  });

  /** An inbound mail; each delivery then set to the status given, in order. */
  const inbound = async (from: string, deliveries: [PlannedDelivery, string][]) => {
    const messageId = `<m${++n}@example.com>`;
    const { id } = await createMessageStore(db.knex).accept({ mailFrom: from, remoteAddress: "192.0.2.1", helo: "h", parsed: parsed(from, messageId),
      raw: Buffer.from(`Message-ID: ${messageId}\r\nSubject: s\r\n\r\nthe text\r\n`), deliveries: deliveries.map(([d]) => d) });
    const rows = await pgdb.query<{ id: number }>("SELECT id FROM deliveries WHERE message_id = $1 ORDER BY id", [id]);
    for (const [i, [, status]] of deliveries.entries()) {
      await pgdb.query("UPDATE deliveries SET status = $1, delivered_at = CASE WHEN $1 = 'delivered' THEN now() END WHERE id = $2", [status, rows[i]!.id]);
    }
    return { id: Number(id), messageId, deliveries: rows.map((r) => Number(r.id)) };
  };
  const outbound = async (mailbox: string, status: string) => {
    const token = `out${++n}`;
    const [r] = await createOutboundStore(db.knex).queue([{ token, mailbox, mailFrom: `bounces+s${n}@jabber.test`, bounceSecret: `secret${n}`,
      to: "alice@example.com", subject: "re", body: "reply", messageId: `${token}@jabber.test`, raw: Buffer.from("Subject: re\r\n\r\nreply\r\n"),
      jid: `${mailbox.replace("jabber.test", "localhost")}/phone`, originStanzaId: null, receiptRequested: false }], { perMinute: 0, perDay: 0 });
    const id = "queued" in r! ? r.queued : 0;
    await pgdb.query("UPDATE deliveries SET status = $1 WHERE id = $2", [status, id]);
    return (await pgdb.query<{ message_id: number }>("SELECT message_id FROM deliveries WHERE id = $1", [id]))[0]!.message_id;
  };
  const message = async (id: number) => (await pgdb.query<{ raw: number; body: string; message_id: string; references: string[]; subject: string;
    from_address: string; web_token: string | null; pruned: boolean }>(`SELECT length(raw) AS raw, body, message_id, "references", subject,
    from_address, web_token, pruned_at IS NOT NULL AS pruned FROM messages WHERE id = $1`, [id]))[0];
  const statuses = async (id: number) => (await pgdb.query<{ status: string }>("SELECT status FROM deliveries WHERE message_id = $1 ORDER BY id", [id]))
    .map((r) => r.status);
  const pass = (at: number, config: Partial<PruneConfig> = {}, d = db) => {
    const store = createRetentionStore(d.knex);
    const results: BatchResult[] = [];
    const run = createPrunePass({ days: 30, threadDays: 365, batch: 500, pauseMs: 0, ...config }, { log, now: () => new Date(Date.now() + at * DAY),
      expire: async (...a) => { const r = await store.expire(...a); results.push(r); return r; },
      forget: async (...a) => { const r = await store.forget(...a); results.push(r); return r; } });
    return run().then((totals) => ({ totals, results }));
  };

  it("clears content after RETENTION_DAYS, keeps what threads a late reply, drops finished rows, never touches waiting mail", async () => {
    const threaded = await inbound("alice@example.com", [[to(0), "delivered"]]);
    const shared = await inbound("bob@example.com", [[to(0), "delivered"], [to(1), "failed"]]);
    const failed = await inbound("carol@example.com", [[to(0), "failed"]]);
    const pending = await inbound("dan@example.com", [[to(0), "pending"]]);
    const sending = await inbound("erin@example.com", [[to(0), "sending"]]);
    const report = await inbound("mailer-daemon@example.com", [[to(0, "report"), "delivered"]]);
    const sent = await outbound(box(0), "delivered");
    const sentFailed = await outbound(box(0), "failed");
    const all = [threaded.id, shared.id, failed.id, pending.id, sending.id, report.id, sent, sentFailed];
    await pgdb.query(`UPDATE messages SET parts = $1 WHERE id = $2`, [JSON.stringify({ type: "text/plain", reportType: null, omitted: 0,
      parts: [{ path: "1", start: 60, end: 70, contentType: "text/plain" }], from: "Alice <alice@example.com>", to: box(0), cc: "carol@example.com",
      date: "Tue, 1 Dec 2026 10:00:00 +0000" }), threaded.id]);

    const early = await pass(29);
    assert.equal(early.totals.cleared + early.totals.deleted, 0, "nothing before its time");
    for (const id of all) assert.ok((await message(id))!.raw > 0);
    assert.deepEqual(await statuses(failed.id), ["failed"], "a failed row stays until its mail expires");

    const late = await pass(31);
    assert.deepEqual({ cleared: late.totals.cleared, deleted: late.totals.deleted, waiting: late.totals.waiting }, { cleared: 2, deleted: 4, waiting: 2 });
    for (const m of [threaded, shared]) {
      const row = (await message(m.id))!;
      assert.deepEqual({ raw: row.raw, body: row.body, web: row.web_token, pruned: row.pruned }, { raw: 0, body: "", web: null, pruned: true });
      assert.deepEqual({ id: row.message_id, refs: row.references, subject: row.subject }, { id: m.messageId, refs: ["<older@example.com>"], subject: `about ${m.messageId}` });
    }
    assert.deepEqual(await statuses(threaded.id), ["delivered"], "the delivered row is the thread's link (its stanza id)");
    const { parts } = (await pgdb.query<{ parts: Record<string, unknown> }>("SELECT parts FROM messages WHERE id = $1", [threaded.id]))[0]!;
    assert.deepEqual(parts, { type: "text/plain", reportType: null, omitted: 0, parts: [], from: "Alice <alice@example.com>", to: box(0),
      cc: "carol@example.com", date: "Tue, 1 Dec 2026 10:00:00 +0000" }, "who the mail was between stays (a reply to all); its part list goes");
    assert.deepEqual(await statuses(shared.id), ["delivered"], "the failed row went with the mail's content");
    for (const id of [failed.id, report.id, sent, sentFailed]) assert.equal(await message(id), undefined, `message ${id} gone whole`);
    for (const m of [pending, sending]) {
      assert.ok((await message(m.id))!.raw > 0, "waiting mail keeps its bytes");
      assert.equal((await message(m.id))!.pruned, false);
    }
    assert.deepEqual(await statuses(pending.id), ["pending"]);
    assert.deepEqual(await statuses(sending.id), ["sending"]);

    // A late reply threads through the existing paths (store/threads.ts): by the XEP-0461 stanza id and
    // by the latest mail from the correspondent.
    const threads = createThreadStore(db.knex);
    const { stanza_id } = (await pgdb.query<{ stanza_id: string }>("SELECT stanza_id FROM deliveries WHERE id = $1", [threaded.deliveries[0]]))[0]!;
    const parent = await threads.byStanzaId(stanza_id, [box(0)]);
    assert.deepEqual(parent && { messageId: parent.messageId, references: parent.references, correspondent: parent.correspondent },
      { messageId: threaded.messageId, references: ["<older@example.com>"], correspondent: "alice@example.com" });
    assert.equal((await threads.latestFrom(["Bob@example.com"], [box(0)])).get("bob@example.com")?.messageId, shared.messageId);

    const year = await pass(366);
    assert.equal(year.totals.deleted, 2, "threading data goes after THREAD_DAYS");
    for (const m of [threaded, shared]) assert.equal(await message(m.id), undefined);
    assert.equal(await threads.byStanzaId(stanza_id, [box(0)]), undefined);
    for (const m of [pending, sending]) assert.ok((await message(m.id))!.raw > 0, "waiting mail is never pruned, whatever its age");
    assert.deepEqual([await statuses(pending.id), await statuses(sending.id)], [["pending"], ["sending"]]);
    await pgdb.query("DELETE FROM messages");
  });

  it("works in bounded batches, and two pruners at once prune each mail exactly once", async () => {
    for (let i = 0; i < 10; i++) await inbound(`s${i}@example.com`, [[to(0), "delivered"]]);
    const { results } = await pass(31, { batch: 3 });
    const expires = results.slice(0, results.findIndex((r) => r.seen < 3) + 1);
    assert.deepEqual(expires.map((r) => r.seen), [3, 3, 3, 1], "at most one batch of mails per transaction");
    assert.ok(results.every((r) => r.seen <= 3 && r.cleared + r.deleted <= 3));

    for (let i = 0; i < 60; i++) await inbound(`t${i}@example.com`, [[to(i % 3), "delivered"], [to(3), i % 2 ? "failed" : "delivered"]]);
    const [a, b] = await Promise.all([pass(31, { batch: 4 }), pass(31, { batch: 4 }, other)]);
    assert.equal(a.totals.cleared + b.totals.cleared, 60, "every mail cleared once between them");
    const { left } = (await pgdb.query<{ left: number }>("SELECT count(*)::int AS left FROM messages WHERE pruned_at IS NULL"))[0]!;
    assert.equal(left, 0);
    const { failedLeft } = (await pgdb.query<{ failedLeft: number }>(`SELECT count(*)::int AS "failedLeft" FROM deliveries WHERE status = 'failed'`))[0]!;
    assert.equal(failedLeft, 0);
    await pgdb.query("DELETE FROM messages");
  });

  it("mailbox purge ADDRESS (the real CLI) deletes the address's mail, keeps another mailbox's copy and what still waits unless --waiting", async () => {
    await pgdb.query("INSERT INTO mailboxes (address, jid) VALUES ($1, 'u0@localhost'), ($2, 'u1@localhost')", [box(0), box(1)]);
    const mine = await inbound("alice@example.com", [[to(0), "delivered"]]);
    const shared = await inbound("bob@example.com", [[to(0), "delivered"], [to(1), "delivered"]]);
    const waiting = await inbound("carol@example.com", [[to(0), "pending"]]);
    const sent = await outbound(box(0), "delivered");
    const queued = await outbound(box(0), "pending");
    const theirs = await inbound("dan@example.com", [[to(1), "failed"]]);
    const cli = (await createGateway({ databaseUrl: pgdb.url, mailDomains: "jabber.test", xmppService: "xmpp://127.0.0.1:1",
      xmppDomain: "mail.localhost", xmppSecret: "s" })).cli;

    const help = await cli("mailbox", "purge", "--help");
    assert.equal(help.code, 0);
    assert.match(help.stdout, /purge ADDRESS \[--waiting\]/);
    assert.equal((await cli("mailbox", "purge")).code, 2, "usage");
    assert.equal((await cli("mailbox", "list", "--waiting")).code, 2, "usage");
    const unknown = await cli("mailbox", "purge", "nobody@jabber.test");
    assert.deepEqual([unknown.code, unknown.stdout.trim()], [1, "no mailbox nobody@jabber.test and no mail stored for it"]);

    const first = await cli("mailbox", "purge", "U0@jabber.test");
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /purged U0@jabber\.test: 3 deliveries and 2 mails deleted/);
    assert.match(first.stdout, /2 deliveries still waiting were kept/);
    assert.equal(await message(mine.id), undefined);
    assert.equal(await message(sent), undefined);
    assert.deepEqual(await statuses(shared.id), ["delivered"], "u1's copy stays");
    assert.deepEqual([await statuses(waiting.id), await statuses(queued)], [["pending"], ["pending"]]);
    assert.deepEqual(await statuses(theirs.id), ["failed"], "another mailbox's mail untouched");

    const second = await cli("mailbox", "purge", box(0), "--waiting");
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stdout, /2 deliveries and 2 mails deleted, 2 of them still waiting/);
    assert.equal(await message(waiting.id), undefined);
    assert.equal(await message(queued), undefined);
    assert.deepEqual(await statuses(shared.id), ["delivered"]);

    const removed = await cli("mailbox", "remove", box(1));
    assert.equal(removed.code, 0);
    assert.match(removed.stdout, /stored mail stays until it expires .*mailbox purge u1@jabber\.test/);
    const after = await cli("mailbox", "purge", box(1));
    assert.equal(after.code, 0, "a removed mailbox's mail can still be purged");
    assert.match(after.stdout, /2 deliveries and 2 mails deleted/);
    const { count } = (await pgdb.query<{ count: number }>("SELECT count(*)::int FROM messages"))[0]!;
    assert.equal(count, 0);
  });
});
