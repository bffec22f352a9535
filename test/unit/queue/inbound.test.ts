// Preparing inbound deliveries: who the mail is from, and the chat message built for each delivery.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { correspondent, createInboundPreparer, type InboundDelivery, type StoredMail } from "../../../src/queue/inbound.ts";
import type { ParsedMail } from "../../../src/core/types.ts";

const GW = "mail.jabber.example.org";
const RECEIVED = new Date("2024-01-02T03:04:05.000Z");

function parsed(over: Partial<ParsedMail> = {}): ParsedMail {
  return {
    subject: "Hello", fromAddress: "alice@example.com", fromName: "Alice", messageId: "<m@example.com>",
    date: null, text: "Hi", fromHtml: false, attachments: [], ...over,
  };
}

function stored(over: Partial<ParsedMail> = {}, mailFrom = "bounces+x@lists.example.com"): StoredMail {
  return { receivedAt: RECEIVED, mailFrom, parsed: parsed(over) };
}

describe("correspondent", () => {
  it("is the From header's address when there is one, whatever the envelope", () => {
    assert.equal(correspondent(stored(), "toto@jabber.example.org"), "alice@example.com");
    assert.equal(correspondent(stored({}, ""), "toto@jabber.example.org"), "alice@example.com");
  });

  it("keeps the case of the From address", () => {
    assert.equal(correspondent(stored({ fromAddress: "Alice.Smith@Example.COM" }), "toto@jabber.example.org"), "Alice.Smith@Example.COM");
  });

  it("falls back to the envelope sender when From is missing or not an address", () => {
    assert.equal(correspondent(stored({ fromAddress: null }), "toto@jabber.example.org"), "bounces+x@lists.example.com");
    assert.equal(correspondent(stored({ fromAddress: "" }), "toto@jabber.example.org"), "bounces+x@lists.example.com");
    assert.equal(correspondent(stored({ fromAddress: "undisclosed-recipients" }), "toto@jabber.example.org"), "bounces+x@lists.example.com");
  });

  it("is MAILER-DAEMON at the recipient's domain for a bounce (MAIL FROM:<>) without a usable From", () => {
    assert.equal(correspondent(stored({ fromAddress: null }, ""), "toto@jabber.example.org"), "MAILER-DAEMON@jabber.example.org");
    assert.equal(correspondent(stored({ fromAddress: "not an address" }, ""), "toto@tcweb.org"), "MAILER-DAEMON@tcweb.org");
  });

  it("falls to MAILER-DAEMON when the envelope sender is not an address either", () => {
    assert.equal(correspondent(stored({ fromAddress: null }, "garbage"), "toto@jabber.example.org"), "MAILER-DAEMON@jabber.example.org");
  });
});

describe("createInboundPreparer", () => {
  const delivery = (id: number, messageId: number, over: Partial<InboundDelivery> = {}): InboundDelivery => ({
    id, messageId, recipient: "toto@jabber.example.org", jid: "toto@jabber.example.org", stanzaId: `pm-${messageId}-${id}`,
    attempts: 0, createdAt: RECEIVED, delayNotified: false, lease: "lease", stored: null, settings: null, ...over,
  });
  /** Deliveries as the claim returns them: each with its stored mail (null when gone) and its mailbox's settings. */
  const claimed = (batch: InboundDelivery[], messages: Map<number, StoredMail>,
    settings = new Map<string, { collapseQuotes: boolean; showHeaders?: boolean }>()) =>
    batch.map((d) => ({ ...d, stored: messages.get(d.messageId) ?? null, settings: settings.get(d.recipient.toLowerCase()) ?? null }));

  it("turns each claimed delivery into a chat message from the correspondent's JID", async () => {
    const messages = new Map<number, StoredMail>([
      [10, stored()],
      [11, stored({ fromAddress: null, fromName: null, subject: "Undelivered Mail Returned to Sender" }, "")],
    ]);
    const prepare = createInboundPreparer({ componentDomain: GW, chatMaxBytes: 16 * 1024 }, {
      now: () => new Date(RECEIVED.getTime() + 1_000),
    });
    const batch = claimed([delivery(1, 10), delivery(2, 11, { jid: "titi@jabber.example.org" }), delivery(3, 12)], messages);
    const prepared = await prepare(batch);

    assert.deepEqual(prepared, [
      {
        delivery: batch[0],
        message: {
          id: "pm-10-1", from: `alice\\40example.com@${GW}`, to: "toto@jabber.example.org",
          body: "Hello\n\nHi", nick: "Alice", delay: null,
        },
      },
      {
        delivery: batch[1],
        message: {
          id: "pm-11-2", from: `mailer-daemon\\40jabber.example.org@${GW}`, to: "titi@jabber.example.org",
          body: "[automatic] Undelivered Mail Returned to Sender\n\nHi", nick: null, delay: null,
        },
      },
      { delivery: batch[2], error: "message row is missing" },
    ]);
  });

  it("marks a late delivery with a delay and applies chatMaxBytes", async () => {
    const prepare = createInboundPreparer({ componentDomain: GW, chatMaxBytes: 80 }, {
      now: () => new Date(RECEIVED.getTime() + 3600_000),
    });
    const [result] = await prepare(claimed([delivery(1, 10)], new Map([[10, stored({ subject: "S", text: "x".repeat(100) })]])));
    assert.ok(result && "message" in result);
    assert.deepEqual(result.message.delay, RECEIVED);
    assert.equal(result.message.body, `S\n\n${"x".repeat(37)}\n\n[… 63 bytes more not shown]`);
  });

  it("ends a cut mail with its page's URL on a line of its own when PUBLIC_URL is set and the mail has a web token", async () => {
    const token = "k".repeat(43);
    const long = { ...stored({ subject: "S", text: "x".repeat(400) }), webToken: token };
    const old = { ...stored({ subject: "S", text: "x".repeat(400) }), webToken: null };
    const messages = new Map<number, StoredMail>([[10, long], [11, old]]);
    const withUrl = createInboundPreparer({ componentDomain: GW, chatMaxBytes: 300, publicUrl: "https://mail.example.org/" },
      { now: () => RECEIVED });
    const [linked, unlinked] = await withUrl(claimed([delivery(1, 10), delivery(2, 11)], messages));
    assert.ok(linked && "message" in linked && unlinked && "message" in unlinked);
    assert.match(linked.message.body, new RegExp(`\\[… \\d+ bytes more not shown\\]\\n\\n\\[not shown here: the rest of the text; full mail below\\]\\nhttps://mail\\.example\\.org/m/${token}$`));
    assert.ok(Buffer.byteLength(linked.message.body) <= 300);
    assert.match(unlinked.message.body, /\[… \d+ bytes more not shown\]$/, "no token (mail from before links): no link");
    const without = createInboundPreparer({ componentDomain: GW, chatMaxBytes: 300 }, { now: () => RECEIVED });
    const [plain] = await without(claimed([delivery(1, 10)], messages));
    assert.ok(plain && "message" in plain);
    assert.doesNotMatch(plain.message.body, /full mail|https:/, "PUBLIC_URL unset: no link");
  });

  it("collapses quoted history unless the recipient's mailbox turned it off", async () => {
    const text = "Yes.\n\nOn Mon, 1 Jan 2024, Bob wrote:\n> one\n> two\n> three\n> four";
    const prepare = createInboundPreparer({ componentDomain: GW, chatMaxBytes: 1024 }, { now: () => RECEIVED });
    const results = await prepare(claimed(
      [delivery(1, 10), delivery(2, 10, { recipient: "Raw@Jabber.example.org" }), delivery(3, 10, { recipient: "gone@jabber.example.org" })],
      new Map([[10, stored({ subject: "S", text })]]), new Map([["raw@jabber.example.org", { collapseQuotes: false }]])));
    const bodies = results.map((r) => ("message" in r ? r.message.body : "error" in r ? r.error : r.retry));
    assert.deepEqual(bodies, [
      "S\n\nYes.\n\n[quoted text hidden: 5 lines]",
      `S\n\n${text}`,
      "S\n\nYes.\n\n[quoted text hidden: 5 lines]",
    ]);
  });

  it("fails only the delivery whose mail cannot be translated, with the reason", async () => {
    const prepare = createInboundPreparer({ componentDomain: GW, chatMaxBytes: 1024 }, { now: () => RECEIVED });
    const [bad, good] = await prepare(claimed([delivery(1, 10), delivery(2, 11)],
      new Map([[10, stored({ text: undefined as unknown as string })], [11, stored()]])));
    assert.ok(bad && "error" in bad);
    assert.match(bad.error, /^could not translate the mail: /);
    assert.ok(good && "message" in good);
  });

  it("shows only the header fields a person reads when the mailbox asked for headers", async () => {
    const prepare = createInboundPreparer({ componentDomain: GW, chatMaxBytes: 4096 }, { now: () => RECEIVED });
    const structure = { type: "text/plain", reportType: null, parts: [], omitted: 0, from: '"Dave Moreau" <dave@example.net>',
      to: "toto@jabber.example.org", cc: "eve@example.net", date: " Tue, 01 Dec 2026 20:05:00 +0000" };
    const messages = new Map<number, StoredMail>([[10, { ...stored({ subject: "Re: Bonjour", text: "Salut" }), structure }],
      [11, stored({ subject: "Old", text: "Hi", date: RECEIVED })]]);
    const [withStructure, without] = await prepare(claimed([delivery(1, 10), delivery(2, 11)], messages,
      new Map([["toto@jabber.example.org", { collapseQuotes: true, showHeaders: true }]])));
    assert.ok(withStructure && "message" in withStructure && without && "message" in without);
    assert.equal(withStructure.message.body, 'From: "Dave Moreau" <dave@example.net>\nTo: toto@jabber.example.org\nCc: eve@example.net\n'
      + "Date: Tue, 01 Dec 2026 20:05:00 +0000\nSubject: Re: Bonjour\n\nRe: Bonjour\n\nSalut");
    assert.equal(without.message.body, "From: Alice <alice@example.com>\nDate: Tue, 02 Jan 2024 03:04:05 +0000\nSubject: Old\n\nOld\n\nHi",
      "a mail stored without a structure: its columns");
  });
});
