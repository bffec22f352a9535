// Chat → mail: a real chat client answers a mail; a real SMTP server on loopback plays the relay.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { simpleParser } from "mailparser";
import { startRelaySink, type RelaySink } from "../support/relay.ts";
import { sendMail } from "../support/smtp.ts";
import { contactJid, MAIL_DOMAIN, startStack, type Stack } from "../support/stack.ts";
import { waitFor } from "../support/wait.ts";
import { connectClient, xml, type ChatClient, type Element } from "../support/xmpp-client.ts";

const STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas";
const body = (m: Element) => m.getChildText("body") ?? "";

describe("answers from chat leave as e-mail through the relay", () => {
  let stack: Stack;
  let toto: ChatClient;
  let relay: RelaySink;
  let relayed: RelaySink["relayed"];

  before(async () => {
    relay = await startRelaySink();
    relayed = relay.relayed;
    stack = await startStack({ gatewayEnv: { SMTP_RELAY: `smtp://127.0.0.1:${relay.port}`, RELAY_RETRY_SCHEDULE: "1",
      SEND_LIMIT_PER_MINUTE: "0" } });
    toto = (await stack.user("toto"))!;
  });
  after(async () => {
    await stack?.close();
    await relay?.stop();
  });

  it("a reply to a mail is threaded under it, from the user's mailbox, with the user's text", async () => {
    await sendMail(stack.gateway.smtpPort, { from: '"Alice" <alice@example.com>', to: `toto@${MAIL_DOMAIN}`,
      subject: "Lunch on Friday?", text: "Noon?", headers: { "Message-ID": "<orig-1@example.com>" } });
    await toto.waitForMessage((m) => body(m).startsWith("Lunch on Friday?"), "the mail");
    await toto.send(xml("message", { type: "chat", to: contactJid("alice@example.com"), id: "r1" }, xml("body", {}, "Yes, noon works.")));
    const sent = await waitFor("the reply at the relay", () => relayed.find((r) => r.to.includes("alice@example.com")));
    // VERP: the envelope sender names this mail by a secret, on the mailbox's domain.
    const secret = /^bounces\+([0-9a-z]{26})@jabber\.test$/.exec(sent.from)?.[1];
    assert.ok(secret, sent.from);
    assert.deepEqual(sent.to, ["alice@example.com"]);
    const mail = await simpleParser(sent.raw);
    assert.equal(mail.from?.value[0]?.address, `toto@${MAIL_DOMAIN}`);
    assert.equal(mail.subject, "Re: Lunch on Friday?");
    assert.equal(mail.inReplyTo, "<orig-1@example.com>");
    assert.deepEqual([mail.references].flat(), ["<orig-1@example.com>"]);
    // The Message-ID is its own random value, unrelated to the bounce secret (replies repeat it).
    assert.match(mail.messageId ?? "", new RegExp(`^<[0-9a-z]{16}@${MAIL_DOMAIN.replace(".", "\\.")}>$`));
    assert.ok(!sent.raw.toString("latin1").includes(secret), "the bounce secret is in no header");
    assert.equal(mail.headers.get("jabber-id"), "toto@localhost");
    assert.equal(mail.text?.trim(), "Yes, noon works.");
  });

  it("writing to a fresh contact in the % form starts a new mail with a subject from the first line", async () => {
    await toto.send(xml("message", { type: "chat", to: `bob%example.org@${"mail.localhost"}`, id: "n1" },
      xml("body", {}, "Are you coming to the meeting tomorrow?\nIt starts at nine.")));
    const sent = await waitFor("the new mail at the relay", () => relayed.find((r) => r.to.includes("bob@example.org")));
    const mail = await simpleParser(sent.raw);
    assert.equal(mail.subject, "Are you coming to the meeting tomorrow?");
    assert.equal(mail.inReplyTo, undefined);
    assert.equal(mail.text?.trim(), "Are you coming to the meeting tomorrow?\nIt starts at nine.");
  });

  it("CR/LF and Bcc: in what the user typed cannot add a header or a recipient", async () => {
    await toto.send(xml("message", { type: "chat", to: contactJid("carol@example.com"), id: "i1" },
      xml("subject", {}, "Hello\r\nBcc: evil@attacker.example"),
      xml("body", {}, "line one\r\nBcc: evil@attacker.example\r\n.\r\nMAIL FROM:<x@y>")));
    const sent = await waitFor("the mail at the relay", () => relayed.find((r) => r.to.includes("carol@example.com")));
    assert.deepEqual(sent.to, ["carol@example.com"]);
    const mail = await simpleParser(sent.raw);
    assert.equal(mail.headers.get("bcc"), undefined);
    assert.equal(mail.subject, "Hello Bcc: evil@attacker.example");
    assert.ok(!relayed.some((r) => r.to.includes("evil@attacker.example")));
  });

  it("a JID without a mailbox is refused with forbidden, and nothing reaches the relay", async () => {
    await stack.prosody.register("nomail", "secret");
    const other = await connectClient(stack.prosody.c2sPort, stack.prosody.domain, "nomail", "secret");
    try {
      const before = relayed.length;
      await other.send(xml("message", { type: "chat", to: contactJid("dave@example.com"), id: "f1" }, xml("body", {}, "spam")));
      const err = await other.waitForMessage((m) => m.attrs.type === "error" && m.attrs.id === "f1", "the forbidden error");
      assert.ok(err.getChild("error")?.getChild("forbidden", STANZAS));
      await new Promise((r) => setTimeout(r, 500));
      assert.equal(relayed.length, before);
      const rows = await stack.db.query("SELECT 1 FROM deliveries WHERE direction = 'outbound' AND recipient = 'dave@example.com'");
      assert.equal(rows.length, 0, "nothing queued");
    } finally {
      await other.stop();
    }
  });

  it("end-to-end encrypted messages are refused with not-acceptable and never mailed", async () => {
    await toto.send(xml("message", { type: "chat", to: contactJid("erin@example.com"), id: "e1" },
      xml("encrypted", { xmlns: "eu.siacs.conversations.axolotl" }), xml("body", {}, "I sent you an OMEMO encrypted message")));
    const err = await toto.waitForMessage((m) => m.attrs.type === "error" && m.attrs.id === "e1", "not-acceptable");
    assert.ok(err.getChild("error")?.getChild("not-acceptable", STANZAS));
    assert.ok(!relayed.some((r) => r.to.includes("erin@example.com")));
  });

  it("a relay 5xx comes back as an error on the user's message, with the relay's words", async () => {
    relay.refuse = { code: 550, text: "5.1.1 mailbox frank does not exist here" };
    try {
      await toto.send(xml("message", { type: "chat", to: contactJid("frank@example.com"), id: "p1" }, xml("body", {}, "hello?")));
      const err = await toto.waitForMessage((m) => m.attrs.type === "error" && m.attrs.id === "p1", "the late error");
      assert.equal(err.attrs.from, contactJid("frank@example.com"));
      assert.match(err.getChild("error")?.getChildText("text", STANZAS) ?? "", /mailbox frank does not exist here/);
      const notice = await toto.waitForMessage((m) => m.attrs.type === "chat" && /was not sent: .*mailbox frank does not exist here/.test(body(m)), "the notice");
      assert.equal(notice.attrs.from, contactJid("frank@example.com"));
      const [row] = await stack.db.query<{ status: string; last_error: string }>(
        "SELECT status, last_error FROM deliveries WHERE direction = 'outbound' AND recipient = 'frank@example.com'");
      assert.equal(row?.status, "failed");
    } finally {
      relay.refuse = null;
    }
  });

  it("a relay 4xx delays the mail: the user is told once, and it leaves when the relay accepts again", async () => {
    relay.refuse = { code: 451, text: "4.3.0 try again later" };
    try {
      await toto.send(xml("message", { type: "chat", to: contactJid("gina@example.com"), id: "t1" }, xml("body", {}, "eventually")));
      const notice = await toto.waitForMessage((m) => m.attrs.from === contactJid("gina@example.com") && /delayed/.test(body(m)), "the delay notice");
      assert.match(body(notice), /try again later/);
      await waitFor("a few more attempts", async () => {
        const rows = await stack.db.query<{ attempts: number }>("SELECT attempts FROM deliveries WHERE recipient = 'gina@example.com'");
        return (rows[0]?.attempts ?? 0) >= 3;
      }, 15_000);
    } finally {
      relay.refuse = null;
    }
    const sent = await waitFor("the mail at the relay once it accepts", () => relayed.find((r) => r.to.includes("gina@example.com")), 15_000);
    assert.equal((await simpleParser(sent.raw)).text?.trim(), "eventually");
    const notices = toto.messages.filter((m) => m.attrs.from === contactJid("gina@example.com") && /delayed/.test(body(m)));
    assert.equal(notices.length, 1, "told once, not at every retry");
    await waitFor("the delivery marked delivered", async () =>
      (await stack.db.query("SELECT 1 FROM deliveries WHERE recipient = 'gina@example.com' AND status = 'delivered'")).length === 1);
  });

  it("a burst to three contacts: one mail per message, queued in the order written, each contact's in order", async () => {
    const burst = Array.from({ length: 60 }, (_, i) => ({ id: `burst${i}`, to: `burst${i % 3}@example.com`, text: `burst message ${i}` }));
    // Sent without waiting for any answer: the gateway takes them in runs.
    for (const m of burst) await toto.send(xml("message", { type: "chat", to: contactJid(m.to), id: m.id }, xml("body", {}, m.text)));
    const at = () => relayed.filter((r) => r.to.some((to) => to.startsWith("burst")));
    await waitFor("60 mails at the relay", () => at().length >= 60, 30_000);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(at().length, 60, "each message once");
    const texts = await Promise.all(at().map(async (r) => ({ to: r.to[0]!, text: (await simpleParser(r.raw)).text?.trim() })));
    for (const contact of ["burst0@example.com", "burst1@example.com", "burst2@example.com"]) {
      assert.deepEqual(texts.filter((t) => t.to === contact).map((t) => t.text),
        burst.filter((m) => m.to === contact).map((m) => m.text), `${contact}: in the order written`);
    }
    // RFC 6120 §10.1: queued in arrival order (the relay claims by delivery id).
    const rows = await stack.db.query<{ origin: string }>(
      "SELECT origin_stanza_id AS origin FROM deliveries WHERE direction = 'outbound' AND recipient LIKE 'burst%' ORDER BY id");
    assert.deepEqual(rows.map((r) => r.origin), burst.map((m) => m.id));
    assert.ok(!toto.messages.some((m) => m.attrs.type === "error" && m.attrs.id?.startsWith("burst")), "none refused");
  });

  it("chat states and other body-less messages are ignored silently", async () => {
    await toto.send(xml("message", { type: "chat", to: contactJid("alice@example.com"), id: "cs1" },
      xml("composing", { xmlns: "http://jabber.org/protocol/chatstates" })));
    await new Promise((r) => setTimeout(r, 500));
    assert.ok(!toto.messages.some((m) => m.attrs.id === "cs1"), "no error for a chat state");
  });
});
