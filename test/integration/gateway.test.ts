// The gateway as a modern client sees it: discovery, the XEP-0100 prompt, subscriptions with
// names, XEP-0077 registration, XEP-0050 commands, XEP-0184 receipts. Real Prosody, real clients.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { simpleParser } from "mailparser";
import { startRelaySink, type RelaySink } from "../support/relay.ts";
import { sendMail, sendRaw } from "../support/smtp.ts";
import { COMPONENT_DOMAIN, contactJid, MAIL_DOMAIN, startStack, type Stack } from "../support/stack.ts";
import { waitFor } from "../support/wait.ts";
import { connectClient, refusal, xml, type ChatClient, type Element } from "../support/xmpp-client.ts";

const NS = {
  info: "http://jabber.org/protocol/disco#info", items: "http://jabber.org/protocol/disco#items",
  gateway: "jabber:iq:gateway", register: "jabber:iq:register", commands: "http://jabber.org/protocol/commands",
  data: "jabber:x:data", vcard: "vcard-temp", receipts: "urn:xmpp:receipts", stanzas: "urn:ietf:params:xml:ns:xmpp-stanzas",
};
const body = (m: Element) => m.getChildText("body") ?? "";
const iq = (type: "get" | "set", to: string, child: Element) => xml("iq", { type, to }, child);
const submit = (fields: Record<string, string>) => xml("x", { xmlns: NS.data, type: "submit" },
  ...Object.entries(fields).map(([v, value]) => xml("field", { var: v }, xml("value", {}, value))));

// The same behaviour on both servers clients meet.
for (const server of ["prosody", "ejabberd"] as const) describe(`a native XMPP gateway (${server})`, () => {
  let stack: Stack;
  let relay: RelaySink;
  let toto: ChatClient;
  let admin: ChatClient;

  before(async () => {
    relay = await startRelaySink();
    stack = await startStack({ server, gatewayEnv: { SMTP_RELAY: `smtp://127.0.0.1:${relay.port}`, SELF_SERVICE_DOMAINS: "localhost",
      ADMIN_JIDS: "boss@localhost" } });
    toto = (await stack.user("toto"))!;
    admin = (await stack.user("boss"))!;
  });
  after(async () => {
    await stack?.close();
    await relay?.stop();
  });

  const run = (client: ChatClient, node: string, form?: Record<string, string>) => (async () => {
    const first = (await client.request(iq("set", COMPONENT_DOMAIN, xml("command", { xmlns: NS.commands, node, action: "execute" }))))
      .getChild("command", NS.commands)!;
    if (!form) return first;
    assert.equal(first.attrs.status, "executing");
    return (await client.request(iq("set", COMPONENT_DOMAIN, xml("command", { xmlns: NS.commands, node, sessionid: first.attrs.sessionid,
      action: "complete" }, submit(form))))).getChild("command", NS.commands)!;
  })();

  it("disco#info: gateway/smtp with every implemented feature; contacts list only what they support", async () => {
    const server = (await toto.request(iq("get", stack.server.domain, xml("query", { xmlns: NS.items })))).getChild("query", NS.items)!;
    assert.ok(server.getChildren("item").some((i) => i.attrs.jid === COMPONENT_DOMAIN), "listed in the server's service discovery");
    const domain = (await toto.request(iq("get", COMPONENT_DOMAIN, xml("query", { xmlns: NS.info })))).getChild("query", NS.info)!;
    assert.deepEqual([domain.getChild("identity")!.attrs.category, domain.getChild("identity")!.attrs.type], ["gateway", "smtp"]);
    const features = domain.getChildren("feature").map((f) => f.attrs.var).sort();
    assert.deepEqual(features, [NS.info, NS.items, NS.commands, NS.gateway, NS.register, "jabber:iq:version", "jid\\20escaping",
      "urn:xmpp:ping", NS.receipts, NS.vcard].sort());
    const contact = (await toto.request(iq("get", contactJid("alice@example.com"), xml("query", { xmlns: NS.info })))).getChild("query", NS.info)!;
    assert.deepEqual(contact.getChildren("feature").map((f) => f.attrs.var).sort(), [NS.info, NS.receipts, NS.vcard, NS.commands].sort());
    const version = (await toto.request(iq("get", COMPONENT_DOMAIN, xml("query", { xmlns: "jabber:iq:version" })))).getChild("query", "jabber:iq:version")!;
    assert.equal(version.getChildText("name"), "Passerelle");
  });

  it("XEP-0100: the prompt turns an address into the escaped contact JID; nonsense is not-acceptable", async () => {
    const prompt = (await toto.request(iq("get", COMPONENT_DOMAIN, xml("query", { xmlns: NS.gateway })))).getChild("query", NS.gateway)!;
    assert.equal(prompt.getChildText("prompt"), "E-mail address");
    const answer = (await toto.request(iq("set", COMPONENT_DOMAIN, xml("query", { xmlns: NS.gateway }, xml("prompt", {}, "Alice.Smith@Example.com")))))
      .getChild("query", NS.gateway)!;
    assert.equal(answer.getChildText("jid"), `alice.smith\\40example.com@${COMPONENT_DOMAIN}`, "case-folded (RFC 7622 §3.3)");
    const bad = await refusal(toto.request(iq("set", COMPONENT_DOMAIN, xml("query", { xmlns: NS.gateway }, xml("prompt", {}, "not an address")))));
    assert.equal(bad.condition, "not-acceptable");
  });

  it("a subscription is approved and returned with the correspondent's name; presence follows; vCard names them", async () => {
    await sendMail(stack.gateway.smtpPort, { from: '"Alice Example" <alice@example.com>', to: `toto@${MAIL_DOMAIN}`, subject: "hello", text: "hi" });
    await toto.waitForMessage((m) => body(m).startsWith("hello"), "the mail");
    const before = await toto.request(xml("iq", { type: "get" }, xml("query", { xmlns: "jabber:iq:roster" })));
    assert.equal(before.getChild("query")!.getChildren("item").length, 0, "a mail adds nothing to the roster");

    const alice = contactJid("alice@example.com");
    await toto.send(xml("presence", { type: "subscribe", to: alice }));
    await toto.waitForPresence((p) => p.attrs.from === alice && p.attrs.type === "subscribed", "subscribed");
    const ask = await toto.waitForPresence((p) => p.attrs.from === alice && p.attrs.type === "subscribe", "the subscription asked back");
    assert.equal(ask.getChildText("nick", "http://jabber.org/protocol/nick"), "Alice Example");
    await toto.waitForPresence((p) => p.attrs.from?.startsWith(alice) === true && p.attrs.type === undefined, "available presence");
    await toto.send(xml("presence", { type: "subscribed", to: alice }));
    await waitFor("both ways in the database", async () => (await stack.db.query(
      "SELECT 1 FROM subscriptions WHERE user_jid = 'toto@localhost' AND contact_jid = lower($1) AND from_user AND to_user", [alice])).length === 1);
    const item = (await toto.request(xml("iq", { type: "get" }, xml("query", { xmlns: "jabber:iq:roster" }))))
      .getChild("query")!.getChildren("item").find((i) => i.attrs.jid === alice.toLowerCase() || i.attrs.jid === alice);
    assert.equal(item?.attrs.subscription, "both");

    // A new session of the same account: the server probes the contact, which answers available.
    const phone = await connectClient(stack.server.c2sPort, stack.server.domain, "toto", "secret", { resource: "phone" });
    try {
      await phone.waitForPresence((p) => p.attrs.from?.startsWith(alice) === true && p.attrs.type === undefined, "presence after login");
    } finally {
      await phone.stop();
    }
    const card = (await toto.request(iq("get", alice, xml("vCard", { xmlns: NS.vcard })))).getChild("vCard", NS.vcard)!;
    assert.equal(card.getChildText("FN"), "Alice Example");
    assert.equal(card.getChild("EMAIL")?.getChildText("USERID"), "alice@example.com");
  });

  it("a vCard reveals only names from mail the asker received", async () => {
    const card = (await admin.request(iq("get", contactJid("alice@example.com"), xml("vCard", { xmlns: NS.vcard })))).getChild("vCard", NS.vcard)!;
    assert.equal(card.getChildText("FN"), "alice@example.com");
  });

  it("XEP-0077: an account registers its mailbox, mail arrives, unregistering disables it", async () => {
    await stack.server.register("newbie", "secret");
    const newbie = await connectClient(stack.server.c2sPort, stack.server.domain, "newbie", "secret");
    try {
      const form = (await newbie.request(iq("get", COMPONENT_DOMAIN, xml("query", { xmlns: NS.register })))).getChild("query", NS.register)!;
      assert.equal(form.getChildText("username"), "newbie");
      assert.match(form.getChildText("instructions") ?? "", /newbie@jabber\.test/);
      const reserved = await refusal(newbie.request(iq("set", COMPONENT_DOMAIN, xml("query", { xmlns: NS.register }, xml("username", {}, "postmaster")))));
      assert.equal(reserved.condition, "not-acceptable");
      const other = await refusal(newbie.request(iq("set", COMPONENT_DOMAIN, xml("query", { xmlns: NS.register }, xml("username", {}, "toto")))));
      assert.equal(other.condition, "not-acceptable", "only the account's own name");
      await newbie.request(iq("set", COMPONENT_DOMAIN, xml("query", { xmlns: NS.register }, xml("username", {}, "NewBie"))));
      const registered = (await newbie.request(iq("get", COMPONENT_DOMAIN, xml("query", { xmlns: NS.register })))).getChild("query", NS.register)!;
      assert.ok(registered.getChild("registered"));
      await sendMail(stack.gateway.smtpPort, { from: "carol@example.com", to: `newbie@${MAIL_DOMAIN}`, subject: "welcome", text: "hi" });
      await newbie.waitForMessage((m) => body(m).startsWith("welcome"), "mail to the new mailbox");

      await newbie.request(iq("set", COMPONENT_DOMAIN, xml("query", { xmlns: NS.register }, xml("remove"))));
      const refused = await sendRaw(stack.gateway.smtpPort, "carol@example.com", [`newbie@${MAIL_DOMAIN}`], "Subject: again\r\n\r\nx\r\n");
      assert.equal(refused.rcpt[0]?.code, 550);
      const [row] = await stack.db.query<{ enabled: boolean; self_service: boolean }>("SELECT enabled, self_service FROM mailboxes WHERE address = $1", [`newbie@${MAIL_DOMAIN}`]);
      assert.deepEqual(row, { enabled: false, self_service: true });
    } finally {
      await newbie.stop();
    }
  });

  it("XEP-0050: users see their commands, admins see theirs too; an admin command is forbidden to others", async () => {
    const list = async (c: ChatClient) => (await c.request(iq("get", COMPONENT_DOMAIN, xml("query", { xmlns: NS.items, node: NS.commands }))))
      .getChild("query", NS.items)!.getChildren("item").map((i) => i.attrs.node);
    assert.deepEqual(await list(toto), ["settings", "new-mail", "status", "spam-held", "badge", "forget"]);
    assert.deepEqual(await list(admin), ["settings", "new-mail", "status", "spam-held", "badge", "forget", "admin-add-mailbox", "admin-disable-mailbox",
      "admin-list-mailboxes", "admin-failed", "admin-retry"]);
    const forbidden = await refusal(run(toto, "admin-list-mailboxes"));
    assert.equal(forbidden.condition, "forbidden");
    const stale = await refusal(toto.request(iq("set", COMPONENT_DOMAIN, xml("command", { xmlns: NS.commands, node: "settings", sessionid: "nope", action: "complete" }))));
    assert.equal(stale.condition, "bad-request");
  });

  it("status, and settings: pause holds mail in the queue, resume delivers it; quotes setting saved", async () => {
    const status = await run(toto, "status");
    assert.equal(status.attrs.status, "completed");
    assert.match(status.getChildText("note") ?? "", new RegExp(`Address: toto@${MAIL_DOMAIN}`));
    const form = (await toto.request(iq("set", COMPONENT_DOMAIN, xml("command", { xmlns: NS.commands, node: "settings", action: "execute" }))))
      .getChild("command", NS.commands)!;
    const fields = form.getChild("x", NS.data)!.getChildren("field").map((f) => `${f.attrs.var}=${f.getChildText("value")}`);
    assert.deepEqual(fields, ["paused=0", "collapse_quotes=1", "show_headers=0", "display_name=", "roster_names=1", "hold_spam=0"]);
    await toto.request(iq("set", COMPONENT_DOMAIN, xml("command", { xmlns: NS.commands, node: "settings", action: "cancel", sessionid: form.attrs.sessionid })));

    await run(toto, "settings", { paused: "1", collapse_quotes: "0", show_headers: "1" });
    await sendMail(stack.gateway.smtpPort, { from: "dan@example.com", to: `toto@${MAIL_DOMAIN}`, subject: "while paused", text: "x" });
    await new Promise((r) => setTimeout(r, 2500));
    assert.ok(!toto.messages.some((m) => body(m).includes("while paused")), "held while paused");
    const waiting = await run(toto, "status");
    assert.match(waiting.getChildText("note") ?? "", /Waiting: 1 to you/);
    await run(toto, "settings", { paused: "0" });
    const shown = await toto.waitForMessage((m) => body(m).includes("while paused"), "the held mail after resuming");
    assert.match(body(shown), /^From: dan@example\.com\n/, "show_headers puts the header fields a person reads first");
    assert.match(body(shown), /\nSubject: while paused\n/);
    const [row] = await stack.db.query<{ collapse_quotes: boolean }>("SELECT collapse_quotes FROM mailboxes WHERE address = $1", [`toto@${MAIL_DOMAIN}`]);
    assert.equal(row?.collapse_quotes, false);
    await run(toto, "settings", { collapse_quotes: "1", show_headers: "0" });
  });

  it("the new-mail command sends a fresh mail (not threaded) through the relay", async () => {
    const done = await run(toto, "new-mail", { to: "alice@example.com", subject: "A new topic", text: "first line\nsecond line" });
    assert.match(done.getChildText("note") ?? "", /on its way/);
    const sent = await waitFor("the mail at the relay", () => relay.relayed.find((r) => r.to.includes("alice@example.com")));
    const mail = await simpleParser(sent.raw);
    assert.equal(mail.subject, "A new topic");
    assert.equal(mail.inReplyTo, undefined, "a new mail, even though alice wrote before");
    assert.equal(mail.text?.trim(), "first line\nsecond line");
    const bad = await run(toto, "new-mail", { to: "nobody", text: "x" });
    assert.equal(bad.getChild("note")?.attrs.type, "error");
  });

  it("admin commands: add and list mailboxes, see failed deliveries and retry one", async () => {
    const added = await run(admin, "admin-add-mailbox", { address: `extra@${MAIL_DOMAIN}`, jid: "extra@localhost" });
    assert.match(added.getChildText("note") ?? "", /added/);
    const listed = await run(admin, "admin-list-mailboxes");
    const rows = listed.getChild("x", NS.data)!.getChildren("item").map((i) => i.getChildren("field").map((f) => f.getChildText("value")).join(" "));
    assert.ok(rows.includes(`extra@${MAIL_DOMAIN} extra@localhost yes`), rows.join("\n"));
    // extra@localhost has no account: Prosody bounces the chat message, the delivery fails.
    await sendMail(stack.gateway.smtpPort, { from: "a@example.com", to: `extra@${MAIL_DOMAIN}`, subject: "to nobody", text: "x" });
    const failedId = await waitFor("a failed delivery", async () => (await stack.db.query<{ id: string }>(
      "SELECT id FROM deliveries WHERE recipient = $1 AND status = 'failed'", [`extra@${MAIL_DOMAIN}`]))[0]?.id);
    const failed = await run(admin, "admin-failed");
    assert.ok(failed.getChild("x", NS.data)!.getChildren("item").some((i) => i.getChildren("field")[0]?.getChildText("value") === String(failedId)));
    const retried = await run(admin, "admin-retry", { id: String(failedId) });
    assert.match(retried.getChildText("note") ?? "", new RegExp(`Delivery ${failedId} will be tried again`));
  });

  it("XEP-0184: our chat messages ask for a receipt, and the client's receipt is recorded", async () => {
    await sendMail(stack.gateway.smtpPort, { from: "erin@example.com", to: `toto@${MAIL_DOMAIN}`, subject: "receipt please", text: "x" });
    const m = await toto.waitForMessage((s) => body(s).startsWith("receipt please"), "the mail");
    assert.ok(m.getChild("request", NS.receipts));
    await toto.send(xml("message", { to: m.attrs.from, id: "ack-1" }, xml("received", { xmlns: NS.receipts, id: m.attrs.id })));
    await waitFor("receipt_at set", async () => (await stack.db.query(
      "SELECT 1 FROM deliveries WHERE stanza_id = $1 AND receipt_at IS NOT NULL", [m.attrs.id])).length === 1);
    assert.ok(!toto.messages.some((s) => s.attrs.type === "error" && s.attrs.id === "ack-1"), "a receipt is not answered with an error");
  });
});
