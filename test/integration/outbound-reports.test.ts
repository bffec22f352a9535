// Chat → mail, second part: display names, DKIM, XEP-0184 receipts, VERP bounce reports, rate limits,
// and the relay going away. Real Prosody, real clients, a real SMTP server as relay.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { simpleParser } from "mailparser";
import { dkimVerify } from "mailauth";
import { generateDkimKey, staticResolver } from "../support/dns.ts";
import { startRelaySink, type RelaySink, type Relayed } from "../support/relay.ts";
import { sendRaw } from "../support/smtp.ts";
import { contactJid, MAIL_DOMAIN, startStack, type Stack } from "../support/stack.ts";
import { waitFor } from "../support/wait.ts";
import { xml, type ChatClient, type Element } from "../support/xmpp-client.ts";

const STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas";
const body = (m: Element) => m.getChildText("body") ?? "";
const chat = (to: string, id: string, text: string, ...extra: Element[]) =>
  xml("message", { type: "chat", to: contactJid(to), id }, xml("body", {}, text), ...extra);

/** An RFC 3464 report as Postfix writes it, to the bounce address `to`, about the mail to `recipient`. */
function dsn(to: string, recipient: string, action: "failed" | "delayed", status: string, diagnostic: string): string {
  return [
    "From: Mail Delivery System <MAILER-DAEMON@mx.example.com>", `To: ${to}`, "Subject: Undelivered Mail Returned to Sender",
    "MIME-Version: 1.0", 'Content-Type: multipart/report; report-type=delivery-status; boundary="B"', "",
    "--B", "Content-Type: text/plain", "", "This is the mail system at host mx.example.com.", "",
    "--B", "Content-Type: message/delivery-status", "", "Reporting-MTA: dns; mx.example.com", "",
    `Final-Recipient: rfc822; ${recipient}`, `Action: ${action}`, `Status: ${status}`,
    `Diagnostic-Code: smtp; ${diagnostic}`, "",
    "--B", "Content-Type: text/rfc822-headers", "", "Subject: whatever", "", "--B--", "",
  ].join("\r\n");
}

describe("outgoing mail: names, signatures, receipts, reports, limits", () => {
  const key = generateDkimKey();
  let stack: Stack;
  let relay: RelaySink;
  let toto: ChatClient;
  const at = (to: string): Relayed | undefined => relay.relayed.find((r) => r.to.includes(to));

  before(async () => {
    relay = await startRelaySink();
    stack = await startStack({ gatewayEnv: {
      SMTP_RELAY: `smtp://127.0.0.1:${relay.port}`, RELAY_RETRY_SCHEDULE: "1",
      SEND_LIMIT_PER_MINUTE: "3", DKIM_SELECTOR: "pass2026", DKIM_PRIVATE_KEY: key.privateKey,
    } });
    toto = (await stack.user("toto"))!;
  });
  // SEND_LIMIT_PER_MINUTE is 3 here: each test writes as its own user, so only the limit test meets it.
  after(async () => {
    await stack?.close();
    await relay?.stop();
  });

  it("From carries the <nick> the user sent, else the mailbox's display_name", async () => {
    await toto.send(chat("n1@example.com", "nick1", "hi", xml("nick", { xmlns: "http://jabber.org/protocol/nick" }, "Toto\r\nBcc: x Lapin")));
    const first = await simpleParser((await waitFor("the mail with a nick", () => at("n1@example.com"))).raw);
    assert.deepEqual(first.from?.value, [{ address: `toto@${MAIL_DOMAIN}`, name: "Toto Bcc: x Lapin" }]);
    assert.equal(first.headers.get("bcc"), undefined);
    await stack.db.query("UPDATE mailboxes SET display_name = 'Toto from SQL' WHERE address = $1", [`toto@${MAIL_DOMAIN}`]);
    await toto.send(chat("n2@example.com", "nick2", "hi again"));
    const second = await simpleParser((await waitFor("the mail without a nick", () => at("n2@example.com"))).raw);
    assert.deepEqual(second.from?.value, [{ address: `toto@${MAIL_DOMAIN}`, name: "Toto from SQL" }]);
  });

  it("signs with DKIM (d= the mailbox's domain): mailauth verifies it against the published key", async () => {
    const sent = await waitFor("a relayed mail", () => at("n2@example.com"));
    const resolver = staticResolver({ [`pass2026._domainkey.${MAIL_DOMAIN}`]: [key.txt] });
    const result = await dkimVerify(sent.raw, { resolver });
    assert.equal(result.results[0]?.status.result, "pass", JSON.stringify(result.results[0]?.status));
    assert.equal(result.results[0]?.signingDomain, MAIL_DOMAIN);
  });

  it("sends the XEP-0184 receipt the user asked for once the relay has the mail", async () => {
    const toto = (await stack.user("rene"))!;
    await toto.send(chat("r@example.com", "rcpt1", "with receipt", xml("request", { xmlns: "urn:xmpp:receipts" })));
    const receipt = await toto.waitForMessage((m) => m.getChild("received", "urn:xmpp:receipts")?.attrs.id === "rcpt1", "the receipt");
    assert.equal(receipt.attrs.from, contactJid("r@example.com"));
    assert.ok(at("r@example.com"), "the relay had the mail before the receipt");
    // No receipt when none was asked for.
    await toto.send(chat("r2@example.com", "rcpt2", "no receipt"));
    await waitFor("the second mail", () => at("r2@example.com"));
    await new Promise((r) => setTimeout(r, 300));
    assert.ok(!toto.messages.some((m) => m.getChild("received", "urn:xmpp:receipts")?.attrs.id === "rcpt2"));
  });

  it("a failure report to the bounce address becomes an error on the original message, not a mail", async () => {
    const toto = (await stack.user("bea"))!;
    await toto.send(chat("gone@example.com", "b1", "are you there?"));
    const sent = await waitFor("the mail", () => at("gone@example.com"));
    const reply = await sendRaw(stack.gateway.smtpPort, "", [sent.from],
      dsn(sent.from, "gone@example.com", "failed", "5.1.1", "550 5.1.1 <gone@example.com>: User unknown in virtual mailbox table"));
    assert.equal(reply.data?.code, 250);
    const err = await toto.waitForMessage((m) => m.attrs.type === "error" && m.attrs.id === "b1", "the error on b1");
    assert.equal(err.attrs.from, contactJid("gone@example.com"));
    assert.ok(err.getChild("error")?.getChild("recipient-unavailable", STANZAS));
    assert.match(err.getChild("error")?.getChildText("text", STANZAS) ?? "", /User unknown in virtual mailbox table \(reported by mx\.example\.com\)/);
    const notice = await toto.waitForMessage((m) => m.attrs.type === "chat" && /could not be delivered/.test(body(m)), "the notice");
    assert.equal(notice.attrs.from, contactJid("gone@example.com"));
    const [row] = await stack.db.query<{ status: string; last_error: string }>(
      "SELECT status, last_error FROM deliveries WHERE direction = 'outbound' AND recipient = 'gone@example.com'");
    assert.equal(row?.status, "failed");
    assert.match(row?.last_error ?? "", /^bounced: 550 5\.1\.1/);
    await new Promise((r) => setTimeout(r, 300));
    assert.ok(!toto.messages.some((m) => body(m).startsWith("Undelivered Mail")), "the report itself is not shown as a mail");
  });

  it("a delay report is a notice; an auto-reply to the bounce address arrives as mail; unknown tokens are refused", async () => {
    const toto = (await stack.user("dora"))!;
    await toto.send(chat("slow@example.com", "d1", "hello slow"));
    const sent = await waitFor("the mail", () => at("slow@example.com"));
    await sendRaw(stack.gateway.smtpPort, "", [sent.from], dsn(sent.from, "slow@example.com", "delayed", "4.4.1", "451 4.4.1 connection timed out"));
    await toto.waitForMessage((m) => /is delayed: 451 4\.4\.1 connection timed out/.test(body(m)), "the delay notice");
    const [row] = await stack.db.query<{ status: string }>("SELECT status FROM deliveries WHERE direction = 'outbound' AND recipient = 'slow@example.com'");
    assert.equal(row?.status, "delivered", "a delay does not fail the mail");

    const auto = await sendRaw(stack.gateway.smtpPort, "", [sent.from], [
      "From: Slow <slow@example.com>", `To: ${sent.from}`, "Subject: Out of office", "Auto-Submitted: auto-replied", "",
      "I am away until Monday.", ""].join("\r\n"));
    assert.equal(auto.data?.code, 250);
    const shown = await toto.waitForMessage((m) => /^\[automatic\] Out of office/.test(body(m)), "the auto-reply as mail, marked automatic");
    assert.equal(shown.attrs.from, contactJid("slow@example.com"));

    const unknown = await sendRaw(stack.gateway.smtpPort, "", [`bounces+00000000000000000000000000@${MAIL_DOMAIN}`], "Subject: x\r\n\r\nx\r\n");
    assert.equal(unknown.rcpt[0]?.code, 550);
    assert.match(unknown.rcpt[0]?.text ?? "", /^5\.1\.1/);
  });

  it("above the per-minute limit the message is refused with a notice, and the relay never sees it", async () => {
    const rita = (await stack.user("rita"))!;
    for (let i = 1; i <= 5; i++) await rita.send(chat("limit@example.com", `l${i}`, `message ${i}`));
    for (const id of ["l4", "l5"]) {
      const err = await rita.waitForMessage((m) => m.attrs.type === "error" && m.attrs.id === id, `the refusal of ${id}`);
      assert.equal(err.getChild("error")?.attrs.type, "wait");
      assert.ok(err.getChild("error")?.getChild("policy-violation", STANZAS));
      assert.match(err.getChild("error")?.getChildText("text", STANZAS) ?? "", /may send 3 mails a minute/);
    }
    await waitFor("three mails at the relay", () => relay.relayed.filter((r) => r.to.includes("limit@example.com")).length === 3);
    await new Promise((r) => setTimeout(r, 500));
    const mails = relay.relayed.filter((r) => r.to.includes("limit@example.com"));
    assert.equal(mails.length, 3);
    // Handled in the order written (RFC 6120 §10.1): the first three leave, in order; the last two are refused.
    assert.deepEqual(await Promise.all(mails.map(async (m) => (await simpleParser(m.raw)).text?.trim())), ["message 1", "message 2", "message 3"]);
    const notices = rita.messages.filter((m) => m.attrs.type === "chat" && /may send 3 mails a minute/.test(body(m)));
    assert.equal(notices.length, 1, "one chat notice, not one per refused message");
    const queued = await stack.db.query("SELECT 1 FROM deliveries WHERE direction = 'outbound' AND recipient = 'limit@example.com'");
    assert.equal(queued.length, 3);
  });

  it("relay down, then back: the mail waits, the user is told, and it leaves with the Message-ID it was given", async () => {
    const toto = (await stack.user("lou"))!;
    await relay.stop();
    await toto.send(chat("later@example.com", "down1", "sent while the relay is down"));
    await toto.waitForMessage((m) => m.attrs.from === contactJid("later@example.com") && /delayed/.test(body(m)), "the delay notice");
    const [queued] = await stack.db.query<{ message_id: string; status: string }>(
      "SELECT m.message_id, d.status FROM deliveries d JOIN messages m ON m.id = d.message_id WHERE d.recipient = 'later@example.com'");
    assert.equal(queued?.status, "pending");
    await relay.start();
    const sent = await waitFor("the mail once the relay is back", () => at("later@example.com"), 20_000);
    assert.equal((await simpleParser(sent.raw)).messageId, `<${queued!.message_id}>`);
    assert.equal(relay.relayed.filter((r) => r.to.includes("later@example.com")).length, 1);
  });
});
