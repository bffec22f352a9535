// Chat → mail decisions (who may send, as whom, under which limit) and delivery reports, with the stores
// replaced by plain functions: the SQL side is covered by the integration tests.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createOutbound, type OutboundDeps } from "../../../src/queue/outbound.ts";
import { createReportPreparer, decisiveReport, namesRecipient, planDeliveries } from "../../../src/queue/reports.ts";
import type { IncomingChat } from "../../../src/core/outbound.ts";
import type { BareJid, MailAddress, QueuedMail, Recipient, ThreadParent } from "../../../src/core/types.ts";
import type { OutboundMail } from "../../../src/mail/compose.ts";
import type { DeliveryReport } from "../../../src/mail/dsn.ts";

const GW = "mail.jabber.example.org";
const chat = (over: Partial<IncomingChat> = {}): IncomingChat => ({
  id: "c1", from: "toto@jabber.example.org/phone", to: `alice\\40example.com@${GW}`, body: "Hello Alice",
  subject: null, replyTo: null, fallback: [], encrypted: null, receiptRequested: false, nick: null, ...over,
});

function harness(options: { owned?: { address: string; displayName: string | null }[]; over?: "minute" | "day"; clock?: () => Date;
  parent?: ThreadParent } = {}) {
  const rendered: OutboundMail[] = [];
  const queued: QueuedMail[] = [];
  let n = 0;
  let secrets = 0;
  const deps: OutboundDeps = {
    ownedBy: async (jid) => (jid === "toto@jabber.example.org" ? options.owned ?? [{ address: "toto@jabber.example.org", displayName: null }] : []),
    byStanzaId: async () => undefined,
    latestFrom: async (correspondents) => new Map(options.parent ? correspondents.map((c) => [c.toLowerCase(), options.parent!]) : []),
    compose: async (mail) => {
      rendered.push(mail);
      return Buffer.from("raw");
    },
    sentCounts: async () => new Map(),
    queue: async (inputs) => inputs.map((input) => {
      if (options.over) return { over: options.over };
      queued.push(input);
      return { queued: queued.length };
    }),
    newToken: () => { secrets = 0; return `token${String(++n).padStart(11, "0")}`; },
    newSecret: () => `secret${String(n).padStart(20, "0")}${secrets++ ? `-${secrets}` : ""}`,
    now: options.clock ?? (() => new Date("2026-11-25T12:00:00Z")),
  };
  const accept = createOutbound({ componentDomain: GW, sendLimit: { perMinute: 3, perDay: 100 } }, deps);
  return { accept, rendered, queued };
}

describe("createOutbound", () => {
  it("queues with the mail's own bounce address as envelope sender and the receipt request", async () => {
    const h = harness();
    assert.deepEqual(await h.accept(chat({ receiptRequested: true })), { kind: "queued" });
    assert.equal(h.queued[0]!.mailFrom, "bounces+secret00000000000000000001@jabber.example.org");
    assert.equal(h.queued[0]!.bounceSecret, "secret00000000000000000001");
    // The Message-ID (repeated by every reply's References) is the message token, not the bounce secret.
    assert.equal(h.rendered[0]!.messageId, "token00000000001@jabber.example.org");
    assert.equal(h.queued[0]!.messageId, "token00000000001@jabber.example.org");
    assert.equal(h.queued[0]!.receiptRequested, true);
    assert.equal(h.queued[0]!.originStanzaId, "c1");
    assert.equal(h.queued[0]!.jid, "toto@jabber.example.org/phone", "errors and receipts go back to the sending resource");
  });

  it("names the sender by the <nick> sent, else the mailbox's display_name, else nobody; one bounded line", async () => {
    const h = harness({ owned: [{ address: "toto@jabber.example.org", displayName: "Toto from SQL" }] });
    await h.accept(chat({ nick: "Toto\u202E\r\nBcc: evil" }));
    await h.accept(chat());
    await h.accept(chat({ nick: "x".repeat(300) }));
    await h.accept(chat({ nick: " \u200B " }));
    await h.accept(chat({ nick: '"ceo@bank.example" <ceo@bank.example>' }));
    assert.deepEqual(h.rendered.map((m) => m.from.name),
      ["Toto Bcc: evil", "Toto from SQL", "x".repeat(64), "Toto from SQL", "Toto from SQL"]);
    const plain = harness();
    await plain.accept(chat());
    assert.equal(plain.rendered[0]!.from.name, null);
  });

  it("a reply copies the answered mail's others (Cc) with names, each a delivery with its own bounce address", async () => {
    const h = harness({ parent: { mailbox: "toto@jabber.example.org", subject: "Plans", messageId: "p@example.com", references: [],
      correspondent: "Alice@Example.com", correspondentName: "Alice Martin",
      to: '"Toto" <toto@jabber.example.org>, "Eve" <eve@example.net>', cc: "frank@example.de, alice@example.com" } });
    assert.deepEqual(await h.accept(chat({ receiptRequested: true })), { kind: "queued" });
    const mail = h.rendered[0]!;
    assert.equal(mail.to, "Alice@Example.com");
    assert.equal(mail.toName, "Alice Martin");
    assert.deepEqual(mail.cc, [{ address: "eve@example.net", name: "Eve" }, { address: "frank@example.de", name: null }]);
    const queued = h.queued[0]!;
    assert.deepEqual(queued.copies?.map((c) => c.to), ["eve@example.net", "frank@example.de"]);
    const secrets = [queued.bounceSecret, ...queued.copies!.map((c) => c.bounceSecret)];
    assert.equal(new Set(secrets).size, 3, "a secret per recipient");
    for (const c of queued.copies!) assert.equal(c.mailFrom, `bounces+${c.bounceSecret}@jabber.example.org`);
    const fresh = harness();
    await fresh.accept(chat({ fresh: true }));
    assert.equal(fresh.rendered[0]!.cc?.length ?? 0, 0, "a new mail copies no one");
    assert.equal(fresh.queued[0]!.copies, undefined);
  });

  it("over a limit: policy-violation (type wait) every time, the chat notice at most once in ten minutes", async () => {
    let now = new Date("2026-11-25T12:00:00Z").getTime();
    const h = harness({ over: "minute", clock: () => new Date(now) });
    const first = await h.accept(chat());
    assert.deepEqual(first, { kind: "refused", type: "wait", condition: "policy-violation",
      text: "Not sent: toto@jabber.example.org may send 3 mails a minute. Wait a minute and send it again.",
      notice: "Not sent: toto@jabber.example.org may send 3 mails a minute. Wait a minute and send it again." });
    now += 60_000;
    const second = await h.accept(chat());
    assert.equal(second.kind, "refused");
    assert.ok(!("notice" in second), "no second notice within ten minutes");
    now += 10 * 60_000;
    assert.ok("notice" in (await h.accept(chat())), "a notice again after ten minutes");
    const daily = await harness({ over: "day" }).accept(chat());
    assert.match(daily.kind === "refused" ? daily.text : "", /may send 100 mails a day\. Send it again tomorrow\./);
    assert.equal(h.queued.length, 0);
  });

  it("a burst is taken in runs: one mailbox lookup and one queue call for a run, answers on the right messages", async () => {
    const calls = { ownedBy: 0, latestFrom: 0 };
    const runs: string[][] = [];
    let sent = 0;
    const accept = createOutbound({ componentDomain: GW, sendLimit: { perMinute: 3, perDay: 100 } }, {
      ownedBy: async () => (calls.ownedBy++, [{ address: "toto@jabber.example.org", displayName: null }]),
      byStanzaId: async () => undefined,
      latestFrom: async () => (calls.latestFrom++, new Map()),
      compose: async (mail) => Buffer.from(mail.text),
      // What the store has counted: checked before any mail of a run is composed (queue/admission.ts).
      sentCounts: async (boxes) => new Map(boxes.map((b) => [b.toLowerCase(), { minute: sent, day: sent }])),
      // Counted in order, as the store does under its lock: the fourth and later are over the limit.
      queue: async (inputs) => {
        runs.push(inputs.map((i) => i.originStanzaId!));
        return inputs.map(() => (++sent <= 3 ? { queued: sent } : { over: "minute" as const }));
      },
      newToken: () => `token${sent}`,
      newSecret: () => `secret${sent}`,
      now: () => new Date("2026-11-25T12:00:00Z"),
    });
    const ids = ["m1", "m2", "m3", "m4", "m5", "m6"];
    const verdicts = await Promise.all([
      ...ids.slice(0, 3).map((id) => accept(chat({ id }))),
      accept(chat({ id: "enc", encrypted: "OMEMO" })),
      ...ids.slice(3).map((id) => accept(chat({ id }))),
    ]);
    // The second run is checked against the one mail counted: m4–m6 are refused before being composed or queued.
    assert.deepEqual(runs, [["m1"], ["m2", "m3"]]);
    assert.equal(calls.ownedBy, 2, "one lookup a run");
    assert.equal(calls.latestFrom, 2);
    assert.deepEqual(verdicts.map((v) => v.kind === "refused" ? v.condition : v.kind),
      ["queued", "queued", "queued", "not-acceptable", "policy-violation", "policy-violation", "policy-violation"]);
  });

  it("a reply leaves from the address the mail was sent to (a subaddress, an address a catch-all took)", async () => {
    const parent = (mailbox: string, addressedTo: string | null): ThreadParent =>
      ({ mailbox, subject: "News", messageId: "m1@example.com", references: [], correspondent: "alice@example.com", addressedTo });
    const sub = harness({ parent: parent("toto@jabber.example.org", "Toto+News@jabber.example.org") });
    assert.deepEqual(await sub.accept(chat()), { kind: "queued" });
    assert.equal(sub.rendered[0]!.from.address, "Toto+News@jabber.example.org");
    assert.equal(sub.queued[0]!.mailbox, "toto@jabber.example.org", "the mailbox's limits and bounces");
    assert.equal(sub.queued[0]!.mailFrom, "bounces+secret00000000000000000001@jabber.example.org");
    const fresh = harness({ parent: parent("toto@jabber.example.org", "toto+news@jabber.example.org") });
    await fresh.accept(chat({ fresh: true }));
    assert.equal(fresh.rendered[0]!.from.address, "toto@jabber.example.org", "a new mail: the mailbox's own");
    const owned = [{ address: "*@jabber.example.org", displayName: null }, { address: "toto@jabber.example.org", displayName: null }];
    const all = harness({ owned, parent: parent("*@jabber.example.org", "sales@jabber.example.org") });
    await all.accept(chat());
    assert.equal(all.rendered[0]!.from.address, "sales@jabber.example.org");
    const other = harness({ owned });
    await other.accept(chat());
    assert.equal(other.rendered[0]!.from.address, "toto@jabber.example.org", "not the catch-all, though older");
  });

  it("a JID whose only mailbox is a catch-all may answer, but not start a mail: forbidden, nothing rendered", async () => {
    const h = harness({ owned: [{ address: "*@jabber.example.org", displayName: null }] });
    const verdict = await h.accept(chat());
    assert.equal(verdict.kind === "refused" && verdict.condition, "forbidden");
    assert.match(verdict.kind === "refused" ? verdict.text : "", /catch-all/);
    assert.equal(h.rendered.length, 0);
  });

  it("refuses a JID without a mailbox before rendering anything", async () => {
    const h = harness();
    const verdict = await h.accept(chat({ from: "mallory@elsewhere.example/x" }));
    assert.equal(verdict.kind === "refused" && verdict.condition, "forbidden");
    assert.equal(h.rendered.length, 0);
  });
});

const target = { deliveryId: 7, correspondent: "alice@example.com", userJid: "toto@jabber.example.org/phone", originStanzaId: "c1" };
const mailbox = { address: "toto@jabber.example.org" as MailAddress, jid: "toto@jabber.example.org" as BareJid, enabled: true };
const bounce: Recipient = { ...mailbox, bounceOf: target };
const report = (action: "failed" | "delayed" | "delivered"): DeliveryReport => ({
  reportingMta: "mx.example.com",
  recipients: [{ action, status: action === "failed" ? "5.1.1" : "4.4.1", diagnostic: action === "failed" ? "550 5.1.1 no such user" : null, recipient: "alice@example.com" }],
});

describe("planDeliveries", () => {
  it("a failure report to a bounce address: one report delivery and the outgoing delivery failed with the words", () => {
    assert.deepEqual(planDeliveries([bounce], report("failed")), {
      deliveries: [{ kind: "report", recipient: "alice@example.com", jid: "toto@jabber.example.org/phone", originStanzaId: "c1" }],
      failOutbound: [{ id: 7, why: "bounced: 550 5.1.1 no such user (reported by mx.example.com)" }],
      ignored: [],
    });
  });

  it("a delay report tells the user without failing the mail; a success report is kept without a delivery", () => {
    assert.deepEqual(planDeliveries([bounce], report("delayed")).failOutbound, []);
    assert.equal(planDeliveries([bounce], report("delayed")).deliveries[0]!.kind, "report");
    assert.deepEqual(planDeliveries([bounce], report("delivered")), { deliveries: [], failOutbound: [], ignored: [] });
  });

  it("a report that does not name the recipient the mail went to is ignored: nothing shown, nothing failed", () => {
    const forged: DeliveryReport = { reportingMta: "mx.evil.example", recipients: [
      { action: "failed", status: "5.0.0", diagnostic: "550 ACCOUNT SUSPENDED - re-verify at http://evil.example", recipient: "someone@example.com" },
      { action: "delayed", status: "4.0.0", diagnostic: null, recipient: null },
    ] };
    assert.deepEqual(planDeliveries([bounce], forged), { deliveries: [], failOutbound: [], ignored: [{ id: 7, named: ["someone@example.com"] }] });
    const nobody: DeliveryReport = { reportingMta: null, recipients: [{ action: "failed", status: "5.1.1", diagnostic: null, recipient: null }] };
    assert.deepEqual(planDeliveries([bounce], nobody), { deliveries: [], failOutbound: [], ignored: [{ id: 7, named: [] }] });
    // Two bounce addresses in one mail: each report counts for its own mail only.
    const other: Recipient = { ...mailbox, bounceOf: { ...target, deliveryId: 8, correspondent: "bob@example.com" } };
    const plan = planDeliveries([bounce, other], report("failed"));
    assert.deepEqual(plan.failOutbound.map((f) => f.id), [7]);
    assert.deepEqual(plan.deliveries.map((d) => d.recipient), ["alice@example.com"]);
    assert.deepEqual(plan.ignored.map((i) => i.id), [8]);
  });

  it("only the groups about our recipient decide: another address's failure does not fail our mail", () => {
    const mixed: DeliveryReport = { reportingMta: "mx.example.com", recipients: [
      { action: "failed", status: "5.1.1", diagnostic: "550 no such user", recipient: "carol@example.com" },
      { action: "delayed", status: "4.4.1", diagnostic: "451 later", recipient: "alice@example.com" },
    ] };
    const plan = planDeliveries([bounce], mixed);
    assert.deepEqual(plan.failOutbound, []);
    assert.equal(plan.deliveries[0]?.kind, "report");
    assert.equal(decisiveReport(mixed, "alice@example.com")?.action, "delayed");
    assert.equal(decisiveReport(mixed, "dave@example.com"), null);
  });
});

describe("namesRecipient", () => {
  const r = (recipient: string | null, originalRecipient?: string) =>
    ({ action: "failed" as const, status: null, diagnostic: null, recipient, ...(originalRecipient ? { originalRecipient } : {}) });
  it("matches Final-Recipient or Original-Recipient case-insensitively, with or without angle brackets", () => {
    assert.equal(namesRecipient(r("alice@example.com"), "Alice@Example.COM"), true);
    assert.equal(namesRecipient(r(" <ALICE@example.com> "), "alice@example.com"), true);
    assert.equal(namesRecipient(r("alice.forward@elsewhere.example", "alice@example.com"), "alice@example.com"), true);
  });
  it("does not match another address, a part of it, or nothing", () => {
    for (const [x, y] of [["alice@example.com.evil", "alice@example.com"], ["lice@example.com", "alice@example.com"],
      ["alice@example.co", "alice@example.com"], ["", "alice@example.com"]] as const) {
      assert.equal(namesRecipient(r(x), y), false, x);
    }
    assert.equal(namesRecipient(r(null), "alice@example.com"), false);
  });

  it("anything else to a bounce address is mail for the sending mailbox; mailbox recipients always get mail", () => {
    assert.deepEqual(planDeliveries([bounce, mailbox], null).deliveries, [
      { kind: "mail", recipient: "toto@jabber.example.org", jid: "toto@jabber.example.org", originStanzaId: null },
      { kind: "mail", recipient: "toto@jabber.example.org", jid: "toto@jabber.example.org", originStanzaId: null },
    ]);
    assert.equal(planDeliveries([mailbox], report("failed")).deliveries[0]!.kind, "mail", "a DSN to a mailbox is just mail");
  });
});

describe("createReportPreparer", () => {
  const delivery = { id: 1, messageId: 9, recipient: "alice@example.com", jid: "toto@jabber.example.org/phone", stanzaId: "tok.0",
    attempts: 1, originStanzaId: "c1", createdAt: new Date(0), delayNotified: false, lease: "lease" };
  const prepare = (r: unknown, over: Partial<typeof delivery> = {}) =>
    createReportPreparer({ componentDomain: GW })([{ ...delivery, stored: { report: r }, ...over }]);

  it("a failure: an error on the original message to the sending resource, and a notice to the bare JID", async () => {
    const [item] = await prepare(report("failed"));
    assert.ok(item && "message" in item);
    const text = "Your mail to alice@example.com could not be delivered: 550 5.1.1 no such user (reported by mx.example.com)";
    assert.deepEqual(item.message, {
      kind: "report",
      error: { from: `alice\\40example.com@${GW}`, to: "toto@jabber.example.org/phone", id: "c1", text },
      notice: { id: "tok.0", from: `alice\\40example.com@${GW}`, to: "toto@jabber.example.org", body: text, nick: null, delay: null },
    });
  });

  it("a delay: only the notice; no error without a resource or an original id", async () => {
    const [delayed] = await prepare(report("delayed"));
    assert.ok(delayed && "message" in delayed && delayed.message.error === null);
    assert.match(delayed.message.notice.body, /is delayed: 4\.4\.1 \(reported by mx\.example\.com\)\. The remote server keeps trying\.$/);
    const [bare] = await prepare(report("failed"), { jid: "toto@jabber.example.org" });
    assert.ok(bare && "message" in bare && bare.message.error === null);
    const [noId] = await prepare(report("failed"), { originStanzaId: null as unknown as string });
    assert.ok(noId && "message" in noId && noId.message.error === null);
  });

  it("a report that names another recipient is unreadable for this delivery", async () => {
    const other = { ...report("failed"), recipients: [{ ...report("failed").recipients[0]!, recipient: "mallory@example.com" }] };
    assert.ok("error" in (await prepare(other))[0]!);
  });

  it("a missing or unreadable report fails that delivery alone", async () => {
    assert.deepEqual(await prepare(null), [{ delivery: { ...delivery, stored: { report: null } }, error: "delivery report is missing or unreadable" }]);
    assert.ok("error" in (await prepare({ reportingMta: null, recipients: [] }))[0]!);
  });
});
