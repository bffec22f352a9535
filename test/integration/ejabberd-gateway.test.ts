// The gateway on ejabberd: mail in becomes a chat message at a real client, and the client's answer
// leaves through the relay, as on Prosody (inbound.test.ts, outbound.test.ts).
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { simpleParser } from "mailparser";
import { startRelaySink, type RelaySink } from "../support/relay.ts";
import { sendMail } from "../support/smtp.ts";
import { COMPONENT_DOMAIN, contactJid, MAIL_DOMAIN, startStack, type Stack } from "../support/stack.ts";
import { waitFor } from "../support/wait.ts";
import { connectClient, xml, type ChatClient, type Element } from "../support/xmpp-client.ts";

const DISCO_INFO = "http://jabber.org/protocol/disco#info";
const body = (m: Element) => m.getChildText("body") ?? "";

describe("the gateway on ejabberd", () => {
  let stack: Stack;
  let toto: ChatClient;
  let relay: RelaySink;

  before(async () => {
    relay = await startRelaySink();
    stack = await startStack({ server: "ejabberd", gatewayEnv: { SMTP_RELAY: `smtp://127.0.0.1:${relay.port}`,
      RELAY_RETRY_SCHEDULE: "1", SEND_LIMIT_PER_MINUTE: "0" } });
    toto = (await stack.user("toto"))!;
  });
  after(async () => {
    await stack?.close();
    await relay?.stop();
  });

  it("delivers a mail as a chat message from the escaped sender", async () => {
    await sendMail(stack.gateway.smtpPort, {
      from: '"Alice Example" <alice@example.com>', to: `toto@${MAIL_DOMAIN}`,
      subject: "Lunch on Friday?", text: "Shall we meet at noon?\nAlice", headers: { "Message-ID": "<orig-1@example.com>" },
    });
    const m = await toto.waitForMessage((s) => body(s).startsWith("Lunch on Friday?"), "the mail as a chat message");
    assert.equal(m.attrs.type, "chat");
    assert.equal(m.attrs.from, contactJid("alice@example.com"));
    assert.equal(m.attrs.to?.split("/")[0], `toto@${stack.server.domain}`);
    assert.equal(body(m), "Lunch on Friday?\n\nShall we meet at noon?\nAlice");
    assert.equal(m.getChildText("nick", "http://jabber.org/protocol/nick"), "Alice Example");
    await waitFor("the delivery marked delivered", async () =>
      (await stack.db.query("SELECT 1 FROM deliveries WHERE stanza_id = $1 AND status = 'delivered'", [m.attrs.id])).length === 1);
  });

  it("sends the client's reply through the relay, threaded under the mail", async () => {
    await toto.send(xml("message", { type: "chat", to: contactJid("alice@example.com"), id: "r1" }, xml("body", {}, "Yes, noon works.")));
    const sent = await waitFor("the reply at the relay", () => relay.relayed.find((r) => r.to.includes("alice@example.com")));
    assert.deepEqual(sent.to, ["alice@example.com"]);
    const mail = await simpleParser(sent.raw);
    assert.equal(mail.from?.value[0]?.address, `toto@${MAIL_DOMAIN}`);
    assert.equal(mail.subject, "Re: Lunch on Friday?");
    assert.equal(mail.inReplyTo, "<orig-1@example.com>");
    assert.equal(mail.text?.trim(), "Yes, noon works.");
  });

  it("keeps a mail for an offline user in ejabberd's offline storage until the user logs in", async () => {
    await stack.user("zoe", { connect: false });
    await sendMail(stack.gateway.smtpPort, { from: "bob@example.org", to: `zoe@${MAIL_DOMAIN}`, subject: "while away", text: "x" });
    await waitFor("the delivery handed to ejabberd", async () =>
      (await stack.db.query("SELECT 1 FROM deliveries d JOIN messages m ON m.id = d.message_id WHERE m.subject = 'while away' AND d.status = 'delivered'")).length === 1);
    const zoe = await connectClient(stack.server.c2sPort, stack.server.domain, "zoe", "secret");
    try {
      const m = await zoe.waitForMessage((s) => body(s).startsWith("while away"), "the stored message");
      assert.equal(m.attrs.from, contactJid("bob@example.org"));
      assert.ok(m.getChild("delay", "urn:xmpp:delay"), "replayed from offline storage with <delay/>");
    } finally {
      await zoe.stop();
    }
  });

  // Prosody case-folds the `from` of component stanzas (nodeprep), ejabberd passes it on as sent: the
  // gateway folds the contact JID itself (RFC 7622 §3.3), so one correspondent is one contact on both.
  it("shows a sender written in capitals as the same, case-folded contact as on Prosody; the reply keeps the case", async () => {
    await sendMail(stack.gateway.smtpPort, { from: "Carol.Smith@Example.COM", to: `toto@${MAIL_DOMAIN}`, subject: "capitals", text: "x" });
    const m = await toto.waitForMessage((s) => body(s).startsWith("capitals"), "the mail from Carol");
    assert.equal(m.attrs.from, contactJid("carol.smith@example.com"));
    await toto.send(xml("message", { type: "chat", to: m.attrs.from, id: "cap1" }, xml("body", {}, "hello Carol")));
    const sent = await waitFor("the reply at the relay", () => relay.relayed.find((r) => r.raw.includes("hello Carol")));
    assert.deepEqual(sent.to, ["Carol.Smith@example.com"], "mailed with the local part as the correspondent spelled it");
  });

  it("answers disco#info for its domain through ejabberd, which lists it in the server's disco#items", async () => {
    const info = await toto.request(xml("iq", { type: "get", to: COMPONENT_DOMAIN }, xml("query", { xmlns: DISCO_INFO })));
    const identity = info.getChild("query", DISCO_INFO)?.getChild("identity");
    assert.deepEqual([identity?.attrs.category, identity?.attrs.type], ["gateway", "smtp"]);
    const items = await toto.request(xml("iq", { type: "get", to: stack.server.domain },
      xml("query", { xmlns: "http://jabber.org/protocol/disco#items" })));
    const jids = items.getChild("query")?.getChildren("item").map((i) => i.attrs.jid);
    assert.ok(jids?.includes(COMPONENT_DOMAIN), items.toString());
  });
});
