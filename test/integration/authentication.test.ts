// Sender authentication of inbound mail: SPF, DKIM, DMARC through mailauth, against a real DNS
// server on loopback serving a static zone (DNS_SERVERS), keys generated here. Real Prosody, real client.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { createSigner } from "../../src/mail/dkim.ts";
import { startDnsServer, type DnsServer } from "../support/dns-server.ts";
import { generateDkimKey } from "../support/dns.ts";
import { buildMail, sendRaw } from "../support/smtp.ts";
import { MAIL_DOMAIN, startStack, type Stack } from "../support/stack.ts";
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
