// Addresses people expect (docs/design.md §Addresses): subaddresses reach their mailbox with the tag shown
// and answered from; a catch-all row takes the rest of its domain. Real PostgreSQL, SMTP and Prosody.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { simpleParser } from "mailparser";
import { startRelaySink, type RelaySink } from "../support/relay.ts";
import { sendMail, sendRaw } from "../support/smtp.ts";
import { COMPONENT_DOMAIN, contactJid, MAIL_DOMAIN, startStack, type Stack } from "../support/stack.ts";
import { waitFor } from "../support/wait.ts";
import { connectClient, refusal, xml, type ChatClient, type Element } from "../support/xmpp-client.ts";

const CATCH = "catch.test";
const body = (m: Element) => m.getChildText("body") ?? "";
const REGISTER = "jabber:iq:register";
const rcpt = async (stack: Stack, to: string) => (await sendRaw(stack.gateway.smtpPort, "sender@example.com", [to],
  `From: sender@example.com\r\nTo: ${to}\r\nSubject: probe\r\n\r\nprobe\r\n`)).rcpt[0]!;

describe("subaddresses and catch-all mailboxes", () => {
  let stack: Stack;
  let relay: RelaySink;
  let toto: ChatClient;
  let desk: ChatClient;

  before(async () => {
    relay = await startRelaySink();
    stack = await startStack({ gatewayEnv: { SMTP_RELAY: `smtp://127.0.0.1:${relay.port}`, RELAY_RETRY_SCHEDULE: "1",
      SEND_LIMIT_PER_MINUTE: "0", MAIL_DOMAINS: `${MAIL_DOMAIN},${CATCH}`, RECIPIENT_DELIMITER: "+-",
      SELF_SERVICE_DOMAINS: "localhost", SELF_SERVICE_FREE_NAMES: CATCH } });
    toto = (await stack.user("toto"))!;
    await stack.prosody.register("desk", "secret");
    desk = await connectClient(stack.prosody.c2sPort, stack.prosody.domain, "desk", "secret");
  });
  after(async () => {
    await desk?.stop();
    await stack?.close();
    await relay?.stop();
  });

  it("toto+news@ reaches toto, the tag first on the subject line; the reply leaves from toto+news@", async () => {
    await sendMail(stack.gateway.smtpPort, { from: '"Newsletter" <letter@example.com>', to: `Toto+News@${MAIL_DOMAIN}`,
      subject: "Weekly digest", text: "This week.", headers: { "Message-ID": "<digest-1@example.com>" } });
    const got = await toto.waitForMessage((m) => body(m).includes("Weekly digest"), "the subaddressed mail");
    assert.equal(body(got).split("\n")[0], "[News] Weekly digest");
    assert.equal(got.attrs.from, contactJid("letter@example.com"));
    const [row] = await stack.db.query<{ recipient: string; addressed_to: string }>(
      "SELECT recipient, addressed_to FROM deliveries WHERE direction = 'inbound' AND addressed_to IS NOT NULL");
    assert.deepEqual(row, { recipient: `toto@${MAIL_DOMAIN}`, addressed_to: `Toto+News@${MAIL_DOMAIN}` });
    const [stored] = await stack.db.query<{ raw: Buffer }>("SELECT raw FROM messages WHERE subject = 'Weekly digest'");
    assert.ok(stored!.raw.toString("latin1").includes(`\r\n\tfor <Toto+News@${MAIL_DOMAIN}>;\r\n`), "Received: … for the address given");

    await toto.send(xml("message", { type: "chat", to: contactJid("letter@example.com"), id: "sub1" }, xml("body", {}, "Unsubscribe me, please.")));
    const sent = await waitFor("the reply at the relay", () => relay.relayed.find((r) => r.to.includes("letter@example.com")));
    const mail = await simpleParser(sent.raw);
    assert.equal(mail.from?.value[0]?.address, `Toto+News@${MAIL_DOMAIN}`);
    assert.equal(mail.inReplyTo, "<digest-1@example.com>");
    // The bounce address keeps its own form on the mailbox's domain, and still works: the listener takes it.
    assert.match(sent.from, new RegExp(`^bounces\\+[0-9a-z]{26}@${MAIL_DOMAIN.replace(".", "\\.")}$`));
    assert.equal((await rcpt(stack, sent.from)).code, 250);
  });

  it("x+y@ without a mailbox x is refused 550 5.1.1 at RCPT; an exact row for a subaddress takes it", async () => {
    const refused = await rcpt(stack, `x+y@${MAIL_DOMAIN}`);
    assert.equal(refused.code, 550);
    assert.match(refused.text, /^5\.1\.1 /);
    assert.equal((await rcpt(stack, `toto+anything@${MAIL_DOMAIN}`)).code, 250);
    // A row of its own (SQL), applied to the next transaction although toto+vip@ was just looked up.
    assert.equal((await rcpt(stack, `toto+vip@${MAIL_DOMAIN}`)).code, 250);
    await stack.db.query("INSERT INTO mailboxes (address, jid) VALUES ($1, $2)", [`toto+vip@${MAIL_DOMAIN}`, "desk@localhost"]);
    await sendMail(stack.gateway.smtpPort, { from: "vip@example.com", to: `toto+vip@${MAIL_DOMAIN}`, subject: "For the desk", text: "x" });
    const got = await desk.waitForMessage((m) => body(m).includes("For the desk"), "the exact row's mail");
    assert.equal(body(got).split("\n")[0], "For the desk", "its own address: no tag");
    await stack.db.query("UPDATE mailboxes SET enabled = false WHERE address = $1", [`toto+vip@${MAIL_DOMAIN}`]);
    assert.equal((await rcpt(stack, `toto+vip@${MAIL_DOMAIN}`)).code, 550, "a disabled exact row refuses; the base does not take it");
  });

  it("a catch-all row takes any address of its domain, exact mailboxes win, and its replies leave from the address used", async () => {
    assert.equal((await rcpt(stack, `sales@${CATCH}`)).code, 550, "off by default");
    const added = await stack.gateway.cli("mailbox", "add", `*@${CATCH}`, "desk@localhost");
    assert.equal(added.code, 0, added.stderr);
    await stack.db.query("INSERT INTO mailboxes (address, jid) VALUES ($1, $2)", [`toto@${CATCH}`, "toto@localhost"]);
    await sendMail(stack.gateway.smtpPort, { from: "carol@example.com", to: `Sales@${CATCH}`, subject: "Quote request", text: "How much?" });
    const got = await desk.waitForMessage((m) => body(m).includes("Quote request"), "the catch-all's mail");
    assert.equal(body(got).split("\n")[0], `[Sales@${CATCH}] Quote request`);
    await sendMail(stack.gateway.smtpPort, { from: "carol@example.com", to: `toto@${CATCH}`, subject: "For toto only", text: "hi" });
    await toto.waitForMessage((m) => body(m).includes("For toto only"), "the exact mailbox's mail");
    assert.ok(!desk.messages.some((m) => body(m).includes("For toto only")), "the catch-all did not take it");

    await desk.send(xml("message", { type: "chat", to: contactJid("carol@example.com"), id: "q1" }, xml("body", {}, "Ten euros.")));
    const sent = await waitFor("the desk's reply", () => relay.relayed.find((r) => r.to.includes("carol@example.com")));
    assert.equal((await simpleParser(sent.raw)).from?.value[0]?.address, `Sales@${CATCH}`);
    assert.match(sent.from, /^bounces\+[0-9a-z]{26}@catch\.test$/);
    // A new mail has no address to leave from: the catch-all has none of its own.
    await desk.send(xml("message", { type: "chat", to: contactJid("dan@example.com"), id: "q2" }, xml("body", {}, "Hello Dan")));
    const err = await desk.waitForMessage((m) => m.attrs.type === "error" && m.attrs.id === "q2", "the refusal");
    assert.match(err.getChild("error")?.getChildText("text", "urn:ietf:params:xml:ns:xmpp-stanzas") ?? "", /catch-all/);
    // The bounce form is never the catch-all's: a stale bounce is refused, not delivered.
    assert.equal((await rcpt(stack, `bounces+0123456789abcdefghjkmnpqrs@${CATCH}`)).code, 550);
  });

  it("postmaster@ keeps its meaning over the catch-all; another domain without one still refuses", async () => {
    // No ADMIN_JIDS here: RFC 5321 §4.5.1 still makes postmaster@ accepted, kept with a failed delivery.
    assert.equal((await rcpt(stack, `postmaster@${CATCH}`)).code, 250);
    const rows = await stack.db.query("SELECT recipient, jid, status FROM deliveries WHERE lower(coalesce(addressed_to, recipient)) = $1",
      [`postmaster@${CATCH}`]);
    assert.deepEqual(rows, [{ recipient: `postmaster@${CATCH}`, jid: `postmaster@${CATCH}`, status: "failed" }], "not the catch-all's");
    assert.equal((await rcpt(stack, `nobody@${MAIL_DOMAIN}`)).code, 550);
  });

  it("a disabled catch-all refuses 550 5.1.1", async () => {
    const disabled = await stack.gateway.cli("mailbox", "disable", `*@${CATCH}`);
    assert.equal(disabled.code, 0, disabled.stderr);
    const refused = await rcpt(stack, `sales@${CATCH}`);
    assert.equal(refused.code, 550);
    assert.match(refused.text, /^5\.1\.1 /);
    assert.equal((await rcpt(stack, `toto@${CATCH}`)).code, 250, "the exact mailbox still receives");
  });

  it("self-service registration never makes a catch-all nor a name holding a delimiter", async () => {
    await stack.prosody.register("jean-luc", "secret");
    const jl = await connectClient(stack.prosody.c2sPort, stack.prosody.domain, "jean-luc", "secret");
    try {
      const ask = (name: string | null) => refusal(jl.request(xml("iq", { type: "set", to: COMPONENT_DOMAIN },
        xml("query", { xmlns: REGISTER }, ...(name === null ? [] : [xml("username", {}, name)])))));
      const own = await ask(null);
      assert.equal(own.condition, "not-acceptable");
      assert.match(own.text, /cannot hold “-”: here it starts a subaddress/);
      for (const name of [`*@${CATCH}`, `team+x@${CATCH}`, `team-x@${CATCH}`]) {
        assert.equal((await ask(name)).condition, "not-acceptable", name);
      }
      const rows = await stack.db.query("SELECT address FROM mailboxes WHERE lower(jid) = 'jean-luc@localhost'");
      assert.equal(rows.length, 0, "nothing made");
      // The check is the one that refuses: a plain free name is given.
      await jl.request(xml("iq", { type: "set", to: COMPONENT_DOMAIN }, xml("query", { xmlns: REGISTER }, xml("username", {}, `team@${CATCH}`))));
      assert.deepEqual(await stack.db.query("SELECT address FROM mailboxes WHERE lower(jid) = 'jean-luc@localhost'"), [{ address: `team@${CATCH}` }]);
    } finally {
      await jl.stop();
    }
  });
});
