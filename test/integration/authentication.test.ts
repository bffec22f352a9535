// Sender authentication of inbound mail: SPF, DKIM, DMARC through mailauth, against a real DNS
// server on loopback serving a static zone (DNS_SERVERS), keys generated here. Real Prosody, real client.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { createSigner } from "../../src/mail/dkim.ts";
import { startDnsServer, type DnsServer } from "../support/dns-server.ts";
import { generateDkimKey, slowDkimMail } from "../support/dns.ts";
import { buildMail, sendRaw, SmtpSession } from "../support/smtp.ts";
import { MAIL_DOMAIN, startStack, type Stack } from "../support/stack.ts";
import { waitFor } from "../support/wait.ts";
import type { ChatClient, Element } from "../support/xmpp-client.ts";

const body = (m: Element) => m.getChildText("body") ?? "";
const key = generateDkimKey();
const mail = (from: string, subject: string) => buildMail({ From: from, To: `toto@${MAIL_DOMAIN}`, Subject: subject,
  "Message-ID": `<${subject.replace(/\W/g, "")}@test>`, Date: new Date().toUTCString() }, "hello\r\n");
const signed = async (from: string, subject: string) =>
  (await createSigner({ selector: "k1", privateKey: key.privateKey })(Buffer.from(mail(from, subject)), "example.com")).toString();

function zone(): Record<string, string[]> {
  return {
    "k1._domainkey.example.com": [key.txt],
    "example.com": ["v=spf1 -all"],
    "_dmarc.example.com": ["v=DMARC1; p=reject"],
    "spf.example": ["v=spf1 ip4:127.0.0.1 -all"],
    "nodmarc.example": [],
  };
}

describe("sender authentication (AUTH_MODE=mark)", () => {
  let dns: DnsServer;
  let stack: Stack;
  let toto: ChatClient;

  before(async () => {
    dns = await startDnsServer(zone());
    dns.failing.add("_dmarc.flaky.example");
    dns.failing.add("flaky.example");
    stack = await startStack({ gatewayEnv: { AUTH_MODE: "mark", DNS_SERVERS: dns.address } });
    toto = (await stack.user("toto"))!;
  });
  after(async () => {
    await stack?.close();
    await dns?.close();
  });

  it("a DKIM-aligned mail from a p=reject domain arrives unmarked, with Authentication-Results stored", async () => {
    const r = await sendRaw(stack.gateway.smtpPort, "alice@example.com", [`toto@${MAIL_DOMAIN}`], await signed("Alice <alice@example.com>", "signed one"));
    assert.equal(r.data?.code, 250, r.data?.text);
    const m = await toto.waitForMessage((s) => body(s).includes("signed one"), "the signed mail");
    assert.ok(body(m).startsWith("signed one"), body(m));
    const [row] = await stack.db.query<{ head: string }>("SELECT convert_from(substring(raw FROM 1 FOR 4000), 'UTF8') AS head FROM messages WHERE subject = 'signed one'");
    assert.match(row!.head, /^Received-SPF: [^]*\r\nAuthentication-Results: mail\.localhost;[^]*\r\nReceived: from /, "our fields on top, Received last");
    assert.match(row!.head, /dkim=pass/);
    assert.match(row!.head, /dmarc=pass/);
  });

  it("an unsigned mail claiming that domain is delivered with a warning, not as trusted", async () => {
    const r = await sendRaw(stack.gateway.smtpPort, "mallory@example.com", [`toto@${MAIL_DOMAIN}`], mail("Alice <alice@example.com>", "forged one"));
    assert.equal(r.data?.code, 250, "DMARCbis: not rejected on p=reject alone");
    const m = await toto.waitForMessage((s) => body(s).includes("forged one"), "the forged mail");
    assert.ok(body(m).startsWith("[⚠ failed authentication: example.com did not send this (its policy says reject)] forged one"), body(m));
  });

  it("SPF aligned without DMARC is verified; nothing at all is marked unverified", async () => {
    await sendRaw(stack.gateway.smtpPort, "bob@spf.example", [`toto@${MAIL_DOMAIN}`], mail("Bob <bob@spf.example>", "spf one"));
    const spf = await toto.waitForMessage((s) => body(s).includes("spf one"), "the SPF mail");
    assert.ok(body(spf).startsWith("spf one"), body(spf));
    await sendRaw(stack.gateway.smtpPort, "carol@nodmarc.example", [`toto@${MAIL_DOMAIN}`], mail("Carol <carol@nodmarc.example>", "bare one"));
    const bare = await toto.waitForMessage((s) => body(s).includes("bare one"), "the unauthenticated mail");
    assert.ok(body(bare).startsWith("[unverified sender] bare one"), body(bare));
  });

  it("mail claiming our own domain without authentication is refused; nothing is stored", async () => {
    const r = await sendRaw(stack.gateway.smtpPort, "toto@jabber.test", [`toto@${MAIL_DOMAIN}`], mail(`Toto <toto@${MAIL_DOMAIN}>`, "self forged"));
    assert.equal(r.data?.code, 550);
    assert.match(r.data?.text ?? "", /^5\.7\.1 /);
    assert.equal((await stack.db.query("SELECT 1 FROM messages WHERE subject = 'self forged'")).length, 0);
  });

  it("a temporary DNS failure answers 451 4.7.x so the sender retries; nothing is stored", async () => {
    const r = await sendRaw(stack.gateway.smtpPort, "dave@flaky.example", [`toto@${MAIL_DOMAIN}`], mail("Dave <dave@flaky.example>", "flaky one"));
    assert.equal(r.data?.code, 451);
    assert.match(r.data?.text ?? "", /^4\.7\.\d+ /);
    assert.equal((await stack.db.query("SELECT 1 FROM messages WHERE subject = 'flaky one'")).length, 0);
  });
});

describe("sender authentication (AUTH_MODE=strict)", () => {
  let dns: DnsServer;
  let stack: Stack;

  before(async () => {
    dns = await startDnsServer(zone());
    stack = await startStack({ gatewayEnv: { AUTH_MODE: "strict", DNS_SERVERS: dns.address } });
    await stack.user("toto", { connect: false });
  });
  after(async () => {
    await stack?.close();
    await dns?.close();
  });

  it("refuses a DMARC failure of a p=reject domain with 550 5.7.1, and still takes aligned mail", async () => {
    const forged = await sendRaw(stack.gateway.smtpPort, "mallory@example.com", [`toto@${MAIL_DOMAIN}`], mail("Alice <alice@example.com>", "strict forged"));
    assert.equal(forged.data?.code, 550);
    assert.match(forged.data?.text ?? "", /^5\.7\.1 Rejected by DMARC policy of example\.com/);
    const good = await sendRaw(stack.gateway.smtpPort, "alice@example.com", [`toto@${MAIL_DOMAIN}`], await signed("Alice <alice@example.com>", "strict signed"));
    assert.equal(good.data?.code, 250);
  });
});

describe("sender authentication within its limits (AUTH_TIMEOUT_MS)", () => {
  const LIMIT_MS = 3000;
  let dns: DnsServer;
  let stack: Stack;
  let toto: ChatClient;

  before(async () => {
    dns = await startDnsServer(zone());
    dns.silent.add("quiet.example");
    dns.silent.add("_dmarc.quiet.example");
    stack = await startStack({ gatewayEnv: { AUTH_MODE: "mark", DNS_SERVERS: dns.address, AUTH_TIMEOUT_MS: String(LIMIT_MS) } });
    toto = (await stack.user("toto"))!;
  });
  after(async () => {
    await stack?.close();
    await dns?.close();
  });

  it("a crafted slow mail gets 451 4.7.0 at the limit while other sessions are answered; the thread is replaced", async () => {
    const crafted = slowDkimMail("mallory@example.com", `toto@${MAIL_DOMAIN}`, 2000, 1024 * 1024);
    const started = performance.now();
    let answered = 0;
    const slow = sendRaw(stack.gateway.smtpPort, "mallory@example.com", [`toto@${MAIL_DOMAIN}`], crafted)
      .then((r) => ({ r, at: performance.now(), othersAnsweredBefore: answered }));
    // Meanwhile, new sessions get their greeting and every reply up to RCPT: the SMTP side is not stalled.
    for (let i = 0; i < 3; i++) {
      await new Promise((r) => setTimeout(r, LIMIT_MS / 4));
      const { session, greeting } = await SmtpSession.open(stack.gateway.smtpPort);
      try {
        assert.equal(greeting.code, 220);
        assert.equal((await session.command("EHLO other.example")).code, 250);
        assert.equal((await session.command("MAIL FROM:<bob@spf.example>")).code, 250);
        assert.equal((await session.command(`RCPT TO:<toto@${MAIL_DOMAIN}>`)).code, 250);
        answered++;
      } finally {
        session.close();
      }
    }
    const { r, at, othersAnsweredBefore } = await slow;
    assert.equal(r.data?.code, 451, r.data?.text);
    assert.match(r.data?.text ?? "", /^4\.7\.0 /);
    assert.ok(at - started >= LIMIT_MS, `451 after ${Math.round(at - started)} ms, not before the limit of ${LIMIT_MS}`);
    assert.equal(othersAnsweredBefore, 3, "the other sessions were answered while the crafted mail was checked");
    await waitFor("the log line of the replaced thread", () => /sender authentication thread replaced/.test(stack.gateway.output()), 10_000, 50);
    assert.equal((await stack.db.query("SELECT 1 FROM messages WHERE subject = 'many signatures'")).length, 0);
    // A new thread takes the next mail.
    const next = await sendRaw(stack.gateway.smtpPort, "alice@example.com", [`toto@${MAIL_DOMAIN}`], await signed("Alice <alice@example.com>", "after the crafted one"));
    assert.equal(next.data?.code, 250, next.data?.text);
    const m = await toto.waitForMessage((s) => body(s).includes("after the crafted one"), "the signed mail after the crafted one");
    assert.ok(body(m).startsWith("after the crafted one"), body(m));
  });

  it("a DNS server that never answers costs the limit and a 451 4.7.0, never a 5xx", async () => {
    const started = performance.now();
    const r = await sendRaw(stack.gateway.smtpPort, "eve@quiet.example", [`toto@${MAIL_DOMAIN}`], mail("Eve <eve@quiet.example>", "quiet one"));
    assert.equal(r.data?.code, 451, r.data?.text);
    assert.match(r.data?.text ?? "", /^4\.7\.0 /);
    assert.ok(performance.now() - started >= LIMIT_MS);
    assert.equal((await stack.db.query("SELECT 1 FROM messages WHERE subject = 'quiet one'")).length, 0);
  });
});
