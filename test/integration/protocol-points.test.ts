// The smaller protocol points, against the real gateway process, Prosody, PostgreSQL and real clients:
// postmaster@ and abuse@ (RFC 5321 §4.5.1, RFC 2142), an RFC 3463 code on every reply (RFC 2034 §3),
// address-like nicks kept out of From (RFC 5322 §3.4), and long subjects folded and bounded (RFC 5322 §2.1.1).
import assert from "node:assert/strict";
import { connect } from "node:net";
import { once } from "node:events";
import { after, before, describe, it } from "node:test";
import { simpleParser } from "mailparser";
import { startRelaySink, type RelaySink } from "../support/relay.ts";
import { sendRaw, SmtpSession, type Reply } from "../support/smtp.ts";
import { contactJid, MAIL_DOMAIN, startStack, type Stack } from "../support/stack.ts";
import { waitFor } from "../support/wait.ts";
import { connectClient, xml, type ChatClient, type Element } from "../support/xmpp-client.ts";

const body = (m: Element) => m.getChildText("body") ?? "";
const NICK = "http://jabber.org/protocol/nick";
const CODED = /^[245]\.\d{1,3}\.\d{1,3} /;
const MAX_RECIPIENTS = 3;

/** A reply with its code and the RFC 3463 code its text begins with. */
function assertReply(reply: Reply, code: number, enhanced: string, what: string) {
  assert.equal(reply.code, code, `${what}: ${reply.code} ${reply.text}`);
  assert.ok(reply.text.startsWith(`${enhanced} `), `${what}: ${reply.code} ${reply.text}`);
}

describe("the smaller protocol points", () => {
  let stack: Stack;
  let relay: RelaySink;
  let toto: ChatClient;
  let admin: ChatClient;
  let ops: ChatClient;
  const rows = (recipient: string) => stack.db.query<{ jid: string; status: string; last_error: string | null }>(
    "SELECT jid, status, last_error FROM deliveries WHERE lower(recipient) = lower($1) ORDER BY jid", [recipient]);

  before(async () => {
    relay = await startRelaySink();
    stack = await startStack({ gatewayEnv: {
      ADMIN_JIDS: "admin@localhost,Ops@localhost", SMTP_RELAY: `smtp://127.0.0.1:${relay.port}`,
      RELAY_RETRY_SCHEDULE: "1", SEND_LIMIT_PER_MINUTE: "0", SMTP_MAX_RECIPIENTS: String(MAX_RECIPIENTS),
    } });
    toto = (await stack.user("toto"))!;
    for (const name of ["admin", "ops"]) await stack.server.register(name, "secret");
    admin = await connectClient(stack.server.c2sPort, stack.server.domain, "admin", "secret");
    ops = await connectClient(stack.server.c2sPort, stack.server.domain, "ops", "secret");
  });
  after(async () => {
    await admin?.stop();
    await ops?.stop();
    await stack?.close();
    await relay?.stop();
  });

  it("postmaster (also without a domain) and abuse, in any case, reach every administrator", async () => {
    const mail = (subject: string) => `From: far@example.com\r\nTo: postmaster@${MAIL_DOMAIN}\r\nSubject: ${subject}\r\n\r\nhello\r\n`;
    const bare = await sendRaw(stack.gateway.smtpPort, "far@example.com", ["Postmaster"], mail("to the bare postmaster"));
    assert.equal(bare.rcpt[0]!.code, 250, bare.rcpt[0]!.text);
    assert.equal(bare.data?.code, 250);
    const both = await sendRaw(stack.gateway.smtpPort, "far@example.com",
      [`PostMaster@${MAIL_DOMAIN.toUpperCase()}`, `Abuse@${MAIL_DOMAIN}`], mail("to both roles"));
    assert.deepEqual(both.rcpt.map((r) => r.code), [250, 250]);
    for (const client of [admin, ops]) {
      await client.waitForMessage((m) => body(m).startsWith("to the bare postmaster"), "the bare postmaster's mail");
      await client.waitForMessage((m) => body(m).startsWith("to both roles"), "the role mail");
    }
    const postmaster = await waitFor("postmaster delivered", async () => {
      const r = await rows(`postmaster@${MAIL_DOMAIN}`);
      return r.length === 4 && r.every((d) => d.status === "delivered") ? r : undefined;
    });
    assert.deepEqual(postmaster.map((d) => d.jid), ["admin@localhost", "admin@localhost", "ops@localhost", "ops@localhost"],
      "one delivery per administrator and mail");
    assert.deepEqual((await rows(`abuse@${MAIL_DOMAIN}`)).map((d) => d.jid), ["admin@localhost", "ops@localhost"]);
  });

  it("a mailbox mapped for postmaster takes its mail instead of the administrators", async () => {
    await stack.db.query("INSERT INTO mailboxes (address, jid) VALUES ($1, $2)", [`postmaster@${MAIL_DOMAIN}`, "toto@localhost"]);
    try {
      const sent = await sendRaw(stack.gateway.smtpPort, "far@example.com", [`POSTMASTER@${MAIL_DOMAIN}`],
        "From: far@example.com\r\nSubject: mapped postmaster\r\n\r\nx\r\n");
      assert.equal(sent.data?.code, 250);
      await toto.waitForMessage((m) => body(m).startsWith("mapped postmaster"), "the mapped postmaster's mail");
      const r = await stack.db.query<{ jid: string }>(
        "SELECT d.jid FROM deliveries d JOIN messages m ON m.id = d.message_id WHERE m.subject = 'mapped postmaster'");
      assert.deepEqual(r.map((d) => d.jid), ["toto@localhost"]);
    } finally {
      await stack.db.query("DELETE FROM mailboxes WHERE address = $1", [`postmaster@${MAIL_DOMAIN}`]);
    }
  });

  it("every reply the gateway writes carries its RFC 3463 code, but the greeting and EHLO", async () => {
    const { session, greeting } = await SmtpSession.open(stack.gateway.smtpPort);
    try {
      assert.equal(greeting.code, 220);
      assert.doesNotMatch(greeting.text, CODED, "RFC 2034 §3: no code on the greeting");
      assertReply(await session.command("MAIL FROM:<a@example.com>"), 503, "5.5.1", "MAIL before EHLO");
      assertReply(await session.command("HELO"), 501, "5.5.4", "HELO without a name");
      const ehlo = await session.command("EHLO client.example");
      assert.equal(ehlo.code, 250);
      assert.match(ehlo.text, /^ENHANCEDSTATUSCODES$/m);
      assert.doesNotMatch(ehlo.text, CODED);
      assertReply(await session.command("NOOP"), 250, "2.0.0", "NOOP");
      assertReply(await session.command("HELP"), 214, "2.0.0", "HELP");
      assertReply(await session.command("VRFY toto"), 252, "2.0.0", "VRFY");
      assertReply(await session.command("BOGUS"), 500, "5.5.2", "an unknown command");
      assertReply(await session.command("AUTH PLAIN AAAA"), 500, "5.5.2", "AUTH, disabled");
      assertReply(await session.command("STARTTLS"), 500, "5.5.2", "STARTTLS without TLS");
      assertReply(await session.command("RCPT TO:<toto@jabber.test>"), 503, "5.5.1", "RCPT before MAIL");
      assertReply(await session.command("DATA"), 503, "5.5.1", "DATA before MAIL");
      assertReply(await session.command("MAIL FROM:<a@example.com> SIZE=999999999999"), 552, "5.3.4", "SIZE over the limit");
      assertReply(await session.command("MAIL FROM:<bad sender>"), 501, "5.1.7", "a bad sender");
      assertReply(await session.command("MAIL FROM:<a@example.com>"), 250, "2.1.0", "MAIL");
      assertReply(await session.command("MAIL FROM:<b@example.com>"), 503, "5.5.1", "a nested MAIL");
      assertReply(await session.command("DATA"), 503, "5.5.1", "DATA before RCPT");
      assertReply(await session.command("RCPT TO:<bad recipient>"), 501, "5.1.3", "a bad recipient");
      assertReply(await session.command("RCPT TO:<x@elsewhere.example>"), 554, "5.7.1", "a foreign domain");
      assertReply(await session.command(`RCPT TO:<nobody@${MAIL_DOMAIN}>`), 550, "5.1.1", "no such mailbox");
      for (const name of ["toto", "postmaster", "abuse"]) {
        assertReply(await session.command(`RCPT TO:<${name}@${MAIL_DOMAIN}>`), 250, "2.1.5", `RCPT ${name}`);
      }
      assertReply(await session.command(`RCPT TO:<toto2@${MAIL_DOMAIN}>`), 452, "4.5.3", "one recipient too many");
      assert.equal((await session.command("DATA")).code, 354, "354 has no code (RFC 3463 classes 2, 4, 5)");
      session.write("Subject: coded\r\n\r\nx\r\n.\r\n");
      assertReply(await session.read(), 250, "2.0.0", "the mail taken");
      assertReply(await session.command("RSET"), 250, "2.0.0", "RSET");
      assertReply(await session.command("QUIT"), 221, "2.0.0", "QUIT");
    } finally {
      session.close();
    }
  });

  it("the replies that close a session carry theirs: talking first, HTTP, too many unknown commands", async () => {
    const raw = async (lines: string, early: boolean) => {
      const socket = connect({ port: stack.gateway.smtpPort, host: "127.0.0.1", localAddress: "127.0.0.3" });
      let got = "";
      socket.setEncoding("latin1").on("data", (d: string) => { got += d; });
      const closed = once(socket, "close");
      await once(socket, "connect");
      if (!early) await waitFor("the greeting", () => got.includes("\r\n"));
      socket.write(lines);
      await closed;
      return got.split("\r\n").filter(Boolean);
    };
    const early = await raw("EHLO early.example\r\n", true);
    assert.match(early.at(-1)!, /^421 4\.7\.0 .*too soon/, early.join(" | "));
    const http = await raw("GET / HTTP/1.1\r\n", false);
    assert.match(http.at(-1)!, /^421 4\.7\.0 HTTP requests not allowed/, http.join(" | "));
    const unknown = await raw("EHLO x.example\r\n" + "BOGUS\r\n".repeat(10), false);
    assert.equal(unknown.filter((l) => l.startsWith("500 5.5.2 ")).length, 9, unknown.join(" | "));
    assert.match(unknown.at(-1)!, /^421 4\.7\.0 .*too many unrecognized commands/, unknown.join(" | "));
  });

  it("an address-like nick never becomes the From name, and a 100 KB subject leaves folded and cut", async () => {
    await stack.db.query("UPDATE mailboxes SET display_name = 'Toto Dupont' WHERE address = $1", [`toto@${MAIL_DOMAIN}`]);
    const subjects = { ascii: "word ".repeat(20_000), utf8: "héllo wörld ".repeat(8_500), unbroken: "x".repeat(100_000) };
    for (const [name, subject] of Object.entries(subjects)) {
      await toto.send(xml("message", { type: "chat", to: contactJid(`${name}@example.com`), id: `long-${name}` },
        xml("subject", {}, subject), xml("nick", { xmlns: NICK }, '"ceo@bank.example" <ceo@bank.example>'),
        xml("body", {}, `the ${name} subject`)));
    }
    for (const [name, subject] of Object.entries(subjects)) {
      const sent = await waitFor(`the ${name} mail at the relay`, () => relay.relayed.find((r) => r.to.includes(`${name}@example.com`)));
      const lines = sent.raw.toString("latin1").split("\r\n");
      const head = lines.slice(0, lines.indexOf(""));
      assert.ok(lines.every((l) => l.length <= 998), `${name}: a line over 998`);
      assert.ok(head.every((l) => l.length <= 78), `${name}: a header line over 78: ${head.find((l) => l.length > 78)}`);
      const mail = await simpleParser(sent.raw);
      assert.equal(mail.from?.value[0]?.address, `toto@${MAIL_DOMAIN}`);
      assert.equal(mail.from?.value[0]?.name, "Toto Dupont", "the mailbox's name, not the nick");
      assert.ok(!/ceo@bank/i.test(head.join("\n")), `${name}: the nick's address is in no header`);
      const chars = Array.from(mail.subject ?? "");
      assert.ok(chars.length > 190 && chars.length <= 201, `${name}: at most 200 characters and the mark (${chars.length})`);
      assert.equal(chars.at(-1), "…");
      assert.ok(subject.startsWith(chars.slice(0, -1).join("").trimEnd()), `${name}: the subject's beginning`);
    }
    assert.equal(relay.refusedLongLines, 0, "the relay refused no mail for its lines");
  });

  it("without ADMIN_JIDS: postmaster is still accepted and kept failed with the reason; abuse is refused", async () => {
    await stack.gateway.stop();
    delete stack.gateway.env.ADMIN_JIDS;
    await stack.gateway.start();
    const sent = await sendRaw(stack.gateway.smtpPort, "far@example.com", [`postmaster@${MAIL_DOMAIN}`, `abuse@${MAIL_DOMAIN}`],
      "From: far@example.com\r\nSubject: nobody reads this\r\n\r\nx\r\n");
    assertReply(sent.rcpt[0]!, 250, "2.1.5", "postmaster (RFC 5321 §4.5.1: MUST)");
    assertReply(sent.rcpt[1]!, 550, "5.1.1", "abuse, with no one to read it");
    assertReply(sent.data!, 250, "2.0.0", "the mail");
    const kept = await stack.db.query<{ status: string; last_error: string }>(
      "SELECT d.status, d.last_error FROM deliveries d JOIN messages m ON m.id = d.message_id WHERE m.subject = 'nobody reads this'");
    assert.equal(kept.length, 1);
    assert.equal(kept[0]!.status, "failed");
    assert.match(kept[0]!.last_error, /ADMIN_JIDS/);
    const listed = await stack.gateway.cli("queue", "--failed");
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, /ADMIN_JIDS/);
  });
});
