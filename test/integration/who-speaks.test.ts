// Only the right party speaks for a delivery (docs/design.md §Who speaks for a delivery): an error stanza
// counts only from the delivery's recipient or its server, a delivery report only with the mail's bounce
// secret and about the recipient the mail went to. Real Prosody, a second XMPP account as the stranger,
// real SMTP clients and a real SMTP server as relay.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";
import { simpleParser } from "mailparser";
import { startRelaySink, type RelaySink, type Relayed } from "../support/relay.ts";
import { sendRaw } from "../support/smtp.ts";
import { contactJid, MAIL_DOMAIN, startStack, type Stack } from "../support/stack.ts";
import { waitFor } from "../support/wait.ts";
import { connectClient, xml, type ChatClient, type Element } from "../support/xmpp-client.ts";

const STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas";
const run = promisify(execFile);
const body = (m: Element) => m.getChildText("body") ?? "";

/** `<message type="error">` about our stanza `id`, as an entity answering the contact `to` would send it. */
const errorStanza = (to: string, id: string, type: "cancel" | "wait", condition = type === "wait" ? "resource-constraint" : "service-unavailable") =>
  xml("message", { type: "error", to, id }, xml("error", { type }, xml(condition, { xmlns: STANZAS })));

/** An RFC 3464 report to the bounce address `to`, about `recipient`. */
function dsn(to: string, recipient: string, diagnostic: string): string {
  return [
    "From: Mail Delivery System <MAILER-DAEMON@mx.example.com>", `To: ${to}`, "Subject: Undelivered Mail Returned to Sender",
    "MIME-Version: 1.0", 'Content-Type: multipart/report; report-type=delivery-status; boundary="B"', "",
    "--B", "Content-Type: text/plain", "", "This is the mail system at host mx.example.com.", "",
    "--B", "Content-Type: message/delivery-status", "", "Reporting-MTA: dns; mx.example.com", "",
    `Final-Recipient: rfc822; ${recipient}`, "Action: failed", "Status: 5.0.0", `Diagnostic-Code: smtp; ${diagnostic}`, "",
    "--B", "Content-Type: text/rfc822-headers", "", "Subject: whatever", "", "--B--", "",
  ].join("\r\n");
}

describe("who speaks for a delivery", () => {
  let stack: Stack;
  let relay: RelaySink;
  let toto: ChatClient;
  let mallory: ChatClient;
  let mailNo = 0;

  before(async () => {
    relay = await startRelaySink();
    // Prosody: the test makes the server itself send an error through its admin shell.
    stack = await startStack({ server: "prosody", gatewayEnv: { SMTP_RELAY: `smtp://127.0.0.1:${relay.port}`, RELAY_RETRY_SCHEDULE: "1" } });
    toto = (await stack.user("toto"))!;
    // Any XMPP user: an account on the same server, with no mailbox and nothing to do with toto's mail.
    await stack.server.register("mallory", "secret");
    mallory = await connectClient(stack.server.c2sPort, stack.server.domain, "mallory", "secret", { resource: "evil" });
  });
  after(async () => {
    await mallory?.stop();
    await stack?.close();
    await relay?.stop();
  });

  /** A mail to toto; resolves with the queue token the SMTP sender was told. */
  async function mailToToto(subject: string): Promise<string> {
    const reply = await sendRaw(stack.gateway.smtpPort, "alice@example.com", [`toto@${MAIL_DOMAIN}`],
      `From: Alice <alice@example.com>\r\nSubject: ${subject}\r\nMessage-ID: <m${++mailNo}@example.com>\r\n\r\nhello\r\n`);
    const token = /queued as (\S+)/.exec(reply.data?.text ?? "")?.[1];
    assert.ok(token, reply.data?.text);
    return token;
  }
  const rowOf = async (token: string) => (await stack.db.query<{ stanza_id: string; status: string; attempts: number; delivered_at: Date | null; last_error: string | null }>(
    `SELECT d.stanza_id, d.status, d.attempts, d.delivered_at, d.last_error FROM deliveries d JOIN messages m ON m.id = d.message_id
     WHERE m.token = $1`, [token]))[0]!;
  /** The gateway's log lines saying it ignored the error naming `id` from `from`. */
  const ignoredErrors = (id: string, from: string) => stack.gateway.output().split("\n").filter((l) => l.includes("stanza error ignored"))
    .map((l) => JSON.parse(l) as { stanzaId: string; from: string }).filter((l) => l.stanzaId === id && l.from === from);
  const copies = (subject: string) => toto.messages.filter((m) => m.attrs.type === "chat" && body(m).startsWith(subject)).length;

  it("a stranger's cancel and wait, naming a delivered mail's id or the token the sender saw, change nothing", async () => {
    const token = await mailToToto("Delivered once");
    const message = await toto.waitForMessage((m) => body(m).startsWith("Delivered once"), "the mail in toto's client");
    const id = message.attrs.id as string;
    assert.match(id, /^[0-9a-hjkmnp-tv-z]{26}$/, "a random stanza id");
    assert.ok(!id.includes(token), "not derived from the token the SMTP sender saw");
    await waitFor("the delivery marked delivered", async () => (await rowOf(token)).status === "delivered");
    const before = await rowOf(token);

    const contact = message.attrs.from as string;
    for (const named of [id, `${token}.0`]) {
      for (const type of ["cancel", "wait"] as const) await mallory.send(errorStanza(contact, named, type));
    }
    for (const named of [id, `${token}.0`]) {
      await waitFor(`both errors naming ${named} ignored`, () => ignoredErrors(named, mallory.jid + "/evil").length === 2);
    }
    assert.deepEqual(await rowOf(token), before, "status, attempts, delivered_at unchanged");
    await sleep(1500);
    assert.deepEqual(await rowOf(token), before);
    assert.equal(copies("Delivered once"), 1, "the recipient has the mail exactly once");
  });

  it("a stranger's cancel for a mail waiting in a paused mailbox changes nothing; it arrives once resumed", async () => {
    await stack.db.query("UPDATE mailboxes SET paused = true WHERE address = $1", [`toto@${MAIL_DOMAIN}`]);
    let token: string;
    try {
      token = await mailToToto("Paused mail");
      const waiting = await rowOf(token);
      assert.equal(waiting.status, "pending");
      const contact = contactJid("alice@example.com");
      // The stored id stands for any id that leaked: it still needs the recipient's voice.
      for (const named of [waiting.stanza_id, `${token}.0`]) {
        await mallory.send(errorStanza(contact, named, "cancel"));
        await waitFor(`the cancel naming ${named} ignored`, () => ignoredErrors(named, mallory.jid + "/evil").length === 1);
      }
      assert.deepEqual(await rowOf(token), waiting);
    } finally {
      await stack.db.query("UPDATE mailboxes SET paused = false WHERE address = $1", [`toto@${MAIL_DOMAIN}`]);
    }
    await toto.waitForMessage((m) => body(m).startsWith("Paused mail"), "the mail once the mailbox is resumed");
    await waitFor("delivered", async () => (await rowOf(token)).status === "delivered");
    await sleep(500);
    assert.equal(copies("Paused mail"), 1);
  });

  it("the recipient's own error, from its full JID, still counts: cancel fails the mail, wait queues it again", async () => {
    const cancelled = await mailToToto("Refused by toto");
    const first = await toto.waitForMessage((m) => body(m).startsWith("Refused by toto"), "the first mail");
    await waitFor("delivered", async () => (await rowOf(cancelled)).status === "delivered");
    await toto.send(errorStanza(first.attrs.from as string, first.attrs.id as string, "cancel"));
    await waitFor("failed by the recipient's error", async () => (await rowOf(cancelled)).status === "failed");
    assert.equal((await rowOf(cancelled)).last_error, "xmpp cancel/service-unavailable");

    const waited = await mailToToto("Later for toto");
    const second = await toto.waitForMessage((m) => body(m).startsWith("Later for toto"), "the second mail");
    await waitFor("delivered", async () => (await rowOf(waited)).status === "delivered");
    await toto.send(errorStanza(second.attrs.from as string, second.attrs.id as string, "wait"));
    await waitFor("queued again by the recipient's wait", async () => (await rowOf(waited)).status === "pending");
    const row = await rowOf(waited);
    assert.equal(row.last_error, "xmpp wait/resource-constraint");
    assert.equal(row.delivered_at, null);
    assert.equal(row.stanza_id, second.attrs.id, "the same stable id for the next attempt");
  });

  it("an error the recipient's server itself sends (from its domain) counts too", async () => {
    const token = await mailToToto("Refused by the server");
    const message = await toto.waitForMessage((m) => body(m).startsWith("Refused by the server"), "the mail");
    await waitFor("delivered", async () => (await rowOf(token)).status === "delivered");
    // Prosody's admin shell runs Lua inside the server: the stanza leaves from the host itself.
    const lua = `>local st = require "util.stanza"; prosody.core_post_stanza(prosody.hosts["${stack.server.domain}"], `
      + `st.message({ type = "error", from = "${stack.server.domain}", to = "${message.attrs.from as string}", id = "${message.attrs.id as string}" })`
      + `:tag("error", { type = "cancel" }):tag("service-unavailable", { xmlns = "${STANZAS}" }))`;
    await run("prosodyctl", ["--config", stack.server.configPath, "shell", lua], { cwd: stack.server.dir, timeout: 10_000 });
    await waitFor("failed by the server's error", async () => (await rowOf(token)).status === "failed");
    assert.equal((await rowOf(token)).last_error, "xmpp cancel/service-unavailable");
  });

  describe("delivery reports", () => {
    const at = (to: string): Relayed | undefined => relay.relayed.find((r) => r.to.includes(to));
    const outbound = async (to: string) => (await stack.db.query<{ status: string; bounce_secret: string; message_id: string }>(
      `SELECT d.status, d.bounce_secret, m.message_id FROM deliveries d JOIN messages m ON m.id = d.message_id
       WHERE d.direction = 'outbound' AND d.recipient = $1`, [to]))[0]!;
    const fromContact = (address: string) => toto.messages.filter((m) => m.attrs.from === contactJid(address));

    async function sent(to: string, id: string): Promise<Relayed> {
      await toto.send(xml("message", { type: "chat", to: contactJid(to), id }, xml("body", {}, "are you there?")));
      const mail = await waitFor("the mail at the relay", () => at(to));
      await waitFor("the outgoing delivery marked delivered", async () => (await outbound(to)).status === "delivered");
      return mail;
    }

    it("the bounce secret is in no header; a report to the token of its Message-ID (and References) is refused and shows nothing", async () => {
      const mail = await sent("replier@example.com", "r1");
      const { bounce_secret: secret } = await outbound("replier@example.com");
      assert.equal(mail.from, `bounces+${secret}@${MAIL_DOMAIN}`);
      assert.ok(!mail.raw.toString("latin1").toLowerCase().includes(secret), "the secret is in no header and nowhere in the mail");
      const messageId = (await simpleParser(mail.raw)).messageId!;
      // What a reply carries: the Message-ID, repeated in its In-Reply-To and References.
      const reply = await simpleParser(`From: replier@example.com\r\nTo: toto@${MAIL_DOMAIN}\r\nSubject: Re: x\r\n`
        + `In-Reply-To: ${messageId}\r\nReferences: <older@example.com> ${messageId}\r\n\r\nyes\r\n`);
      const references = [reply.references].flat().filter((r): r is string => typeof r === "string");
      const before = toto.messages.length;
      for (const ref of references.filter((r) => r.includes(`@${MAIL_DOMAIN}`))) {
        const token = ref.replace(/^<|>$/g, "").split("@")[0]!;
        const forged = await sendRaw(stack.gateway.smtpPort, "", [`bounces+${token}@${MAIL_DOMAIN}`],
          dsn(`bounces+${token}@${MAIL_DOMAIN}`, "replier@example.com", "550 ACCOUNT SUSPENDED - re-verify at http://evil.example/"));
        assert.equal(forged.rcpt[0]?.code, 550, "the token names no mail");
        assert.match(forged.rcpt[0]?.text ?? "", /^5\.1\.1/);
      }
      assert.ok(references.length > 0);
      await sleep(1000);
      assert.equal((await outbound("replier@example.com")).status, "delivered");
      assert.equal(toto.messages.length, before, "the user's client received nothing");
      assert.ok(!toto.messages.some((m) => /ACCOUNT SUSPENDED/.test(body(m) + m.toString())));
    });

    it("a report with the right secret about another recipient is kept, logged and ignored; the genuine one is shown", async () => {
      const mail = await sent("gone@example.com", "g1");
      const before = fromContact("gone@example.com").length;
      const forged = await sendRaw(stack.gateway.smtpPort, "", [mail.from],
        dsn(mail.from, "someone-else@example.com", "550 ACCOUNT SUSPENDED - re-verify at http://evil.example/"));
      assert.equal(forged.data?.code, 250, "accepted: the mail is kept");
      const token = /queued as (\S+)/.exec(forged.data?.text ?? "")![1]!;
      await waitFor("the ignored report logged", () => stack.gateway.output().split("\n")
        .some((l) => l.includes("delivery report ignored") && l.includes(token) && l.includes("someone-else@example.com")));
      const kept = await stack.db.query<{ n: number; report: unknown }>(
        "SELECT (SELECT count(*)::int FROM deliveries d WHERE d.message_id = m.id) AS n, m.report FROM messages m WHERE m.token = $1", [token]);
      assert.equal(kept[0]?.n, 0, "no delivery: nothing will be shown");
      assert.ok(kept[0]?.report, "the report is kept with the mail");
      await sleep(1000);
      assert.equal((await outbound("gone@example.com")).status, "delivered");
      assert.equal(fromContact("gone@example.com").length, before, "nothing shown");

      const genuine = await sendRaw(stack.gateway.smtpPort, "", [mail.from],
        dsn(mail.from, "Gone@Example.com", "550 5.1.1 <gone@example.com>: User unknown"));
      assert.equal(genuine.data?.code, 250);
      const err = await toto.waitForMessage((m) => m.attrs.type === "error" && m.attrs.id === "g1", "the error on g1");
      assert.match(err.getChild("error")?.getChildText("text", STANZAS) ?? "", /User unknown \(reported by mx\.example\.com\)/);
      await toto.waitForMessage((m) => m.attrs.from === contactJid("gone@example.com") && /could not be delivered/.test(body(m)), "the notice");
      assert.equal((await outbound("gone@example.com")).status, "failed");
      assert.ok(!toto.messages.some((m) => /ACCOUNT SUSPENDED/.test(m.toString())), "the forged words never reached the user");
    });
  });
});
