// Conference rooms with a mail address (docs/design.md §Rooms with an address), on real Prosody (muc
// component) and ejabberd (mod_muc): mail is posted in the room by an occupant standing for its sender;
// a member's XEP-0461 reply, or private message to that occupant, leaves as a threaded mail from the
// room's address; anyone the room does not make a member is refused in words; unknown rooms get 550.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { simpleParser } from "mailparser";
import { startRelaySink, type RelaySink } from "../support/relay.ts";
import { sendMail, sendRaw } from "../support/smtp.ts";
import { MAIL_DOMAIN, startStack, type Stack } from "../support/stack.ts";
import { waitFor } from "../support/wait.ts";
import { xml, type ChatClient } from "../support/xmpp-client.ts";

const NS = { muc: "http://jabber.org/protocol/muc", user: "http://jabber.org/protocol/muc#user", admin: "http://jabber.org/protocol/muc#admin",
  owner: "http://jabber.org/protocol/muc#owner", data: "jabber:x:data", reply: "urn:xmpp:reply:0", stanzas: "urn:ietf:params:xml:ns:xmpp-stanzas" };
const ROOM_ADDRESS = `club@${MAIL_DOMAIN}`;

for (const server of ["prosody", "ejabberd"] as const) describe(`rooms with a mail address (${server})`, () => {
  let stack: Stack;
  let relay: RelaySink;
  let toto: ChatClient;
  let bob: ChatClient;
  let carol: ChatClient;
  let room = "";
  const alice = "alice@example.com";
  const occupantNick = "Alice Martin (mail)";

  /** Join the room as `nick` and wait for our own presence (XEP-0045 §7.2.3, status 110). */
  async function join(client: ChatClient, nick: string): Promise<void> {
    await client.send(xml("presence", { to: `${room}/${nick}` }, xml("x", { xmlns: NS.muc }, xml("history", { maxstanzas: "0" }))));
    await client.waitForPresence((p) => p.attrs.from === `${room}/${nick}` && Boolean(p.getChild("x", NS.user)?.getChildren("status").some((c) => c.attrs.code === "110")),
      `${client.jid} in ${room}`);
  }
  const postedBy = (client: ChatClient, subject: string) => client.waitForMessage((m) => m.attrs.type === "groupchat"
    && m.attrs.from === `${room}/${occupantNick}` && (m.getChildText("body") ?? "").includes(subject), `the mail "${subject}" in the room`, 30_000);

  before(async () => {
    relay = await startRelaySink();
    stack = await startStack({ server, gatewayEnv: { SMTP_RELAY: `smtp://127.0.0.1:${relay.port}`, ROOM_QUIET_SECONDS: "8" } });
    room = `club@${stack.server.muc}`;
    toto = (await stack.user("toto"))!;
    bob = (await stack.user("bob"))!;
    carol = (await stack.user("carol"))!;
    // Toto creates the room by joining it, unlocks it as an instant room (§10.1.2), and makes Bob a member.
    await join(toto, "Toto");
    await toto.request(xml("iq", { type: "set", to: room }, xml("query", { xmlns: NS.owner }, xml("x", { xmlns: NS.data, type: "submit" }))));
    await toto.request(xml("iq", { type: "set", to: room }, xml("query", { xmlns: NS.admin }, xml("item", { jid: bob.jid, affiliation: "member" }))));
    await join(bob, "Bob");
    await join(carol, "Carol");
    const added = await stack.gateway.cli("room", "add", ROOM_ADDRESS, room);
    assert.equal(added.code, 0, added.stderr);
  });
  after(async () => {
    await stack?.close();
    await relay?.stop();
  });

  it("posts a mail in the room by an occupant named after its sender", async () => {
    await sendMail(stack.gateway.smtpPort, { from: `Alice Martin <${alice}>`, to: ROOM_ADDRESS, subject: "Picnic on Sunday", text: "Who brings the bread?" });
    const posted = await postedBy(bob, "Picnic on Sunday");
    assert.match(posted.getChildText("body")!, /Who brings the bread\?/);
    await postedBy(toto, "Picnic on Sunday");
    const row = (await stack.db.query<{ kind: string; status: string; jid: string }>("SELECT kind, status, jid FROM deliveries WHERE recipient = $1", [ROOM_ADDRESS]))[0]!;
    assert.deepEqual([row.kind, row.jid], ["room", room]);
    await waitFor("the delivery marked", async () => (await stack.db.query<{ status: string }>("SELECT status FROM deliveries WHERE recipient = $1", [ROOM_ADDRESS]))[0]?.status === "delivered");
  });

  it("a member's reply (XEP-0461) leaves from the room's address, threaded, with Reply-To the room", async () => {
    const posted = await postedBy(bob, "Picnic on Sunday");
    const id = posted.getChild("stanza-id", "urn:xmpp:sid:0")?.attrs.id ?? posted.attrs.id;
    await bob.send(xml("message", { type: "groupchat", to: room, id: "bob-reply-1" },
      xml("body", {}, "I will bring the bread."), xml("reply", { xmlns: NS.reply, to: `${room}/${occupantNick}`, id })));
    const mail = await waitFor("the reply at the relay", () => relay.relayed.find((m) => m.raw.includes("I will bring the bread.")), 30_000);
    assert.deepEqual(mail.to, [alice]);
    const parsed = await simpleParser(mail.raw);
    assert.equal(parsed.from?.value[0]?.address, ROOM_ADDRESS);
    assert.equal(parsed.replyTo?.value[0]?.address, ROOM_ADDRESS);
    assert.equal(parsed.subject, "Re: Picnic on Sunday");
    const original = (await stack.db.query<{ message_id: string }>("SELECT message_id FROM messages WHERE subject = 'Picnic on Sunday'"))[0]!;
    assert.equal(parsed.inReplyTo, original.message_id.startsWith("<") ? original.message_id : `<${original.message_id}>`);
    assert.equal(relay.relayed.filter((m) => m.raw.includes("I will bring the bread.")).length, 1, "one mail, whatever copies our occupants got");
  });

  it("a member's private message to the occupant leaves as a reply too", async () => {
    await bob.send(xml("message", { type: "chat", to: `${room}/${occupantNick}`, id: "bob-pm-1" }, xml("body", {}, "Privately: I can also bring cheese.")));
    const mail = await waitFor("the private answer at the relay", () => relay.relayed.find((m) => m.raw.includes("I can also bring cheese.")), 30_000);
    assert.deepEqual(mail.to, [alice]);
    assert.equal((await simpleParser(mail.raw)).from?.value[0]?.address, ROOM_ADDRESS);
  });

  it("refuses someone the room does not make a member, with an error in words, and sends nothing", async () => {
    const before = relay.relayed.length;
    const posted = await postedBy(carol, "Picnic on Sunday");
    const id = posted.getChild("stanza-id", "urn:xmpp:sid:0")?.attrs.id ?? posted.attrs.id;
    await carol.send(xml("message", { type: "groupchat", to: room, id: "carol-reply-1" },
      xml("body", {}, "Carol wants to answer too."), xml("reply", { xmlns: NS.reply, to: `${room}/${occupantNick}`, id })));
    const refused = await carol.waitForMessage((m) => m.attrs.type === "error" && m.attrs.id === "carol-reply-1", "the refusal", 20_000);
    const error = refused.getChild("error")!;
    assert.equal(error.attrs.type, "auth");
    assert.ok(error.getChild("forbidden", NS.stanzas));
    assert.match(error.getChildText("text", NS.stanzas) ?? "", /Only members of this room/);
    await carol.send(xml("message", { type: "chat", to: `${room}/${occupantNick}`, id: "carol-pm-1" }, xml("body", {}, "Carol, privately.")));
    await carol.waitForMessage((m) => m.attrs.type === "error" && m.attrs.id === "carol-pm-1", "the private refusal", 20_000);
    assert.equal(relay.relayed.length, before);
    assert.ok(!relay.relayed.some((m) => m.raw.includes("Carol")));
  });

  it("the occupant leaves after the quiet period, and comes back for the next mail", async () => {
    const left = await bob.waitForPresence((p) => p.attrs.from === `${room}/${occupantNick}` && p.attrs.type === "unavailable", "the occupant leaving", 30_000);
    assert.ok(left);
    await sendMail(stack.gateway.smtpPort, { from: `Alice Martin <${alice}>`, to: ROOM_ADDRESS, subject: "Second thoughts", text: "Maybe Saturday?" });
    await postedBy(bob, "Second thoughts");
  });

  it("refuses an unknown or disabled room address at RCPT, and accepts it again when enabled", async () => {
    const unknown = await sendRaw(stack.gateway.smtpPort, alice, [`nosuchroom@${MAIL_DOMAIN}`], "Subject: x\r\n\r\nx\r\n");
    assert.equal(unknown.rcpt[0]!.code, 550);
    assert.equal((await stack.gateway.cli("room", "disable", ROOM_ADDRESS)).code, 0);
    const disabled = await sendRaw(stack.gateway.smtpPort, alice, [ROOM_ADDRESS], "Subject: x\r\n\r\nx\r\n");
    assert.equal(disabled.rcpt[0]!.code, 550);
    assert.equal((await stack.gateway.cli("room", "enable", ROOM_ADDRESS)).code, 0);
    const listed = await stack.gateway.cli("room", "list");
    assert.match(listed.stdout, new RegExp(`${ROOM_ADDRESS}\\t${room}\\tenabled`));
    const again = await sendRaw(stack.gateway.smtpPort, alice, [ROOM_ADDRESS], "Subject: Back\r\nFrom: Alice Martin <alice@example.com>\r\n\r\nBack again\r\n");
    assert.equal(again.rcpt[0]!.code, 250);
    await postedBy(bob, "Back");
    // A room needs an address of its own: a mailbox's is refused.
    const clash = await stack.gateway.cli("room", "add", `toto@${MAIL_DOMAIN}`, room);
    assert.equal(clash.code, 1);
  });

  it("a room the gateway may not enter fails the delivery with the room's reason", async () => {
    const closed = `closed@${stack.server.muc}`;
    // Toto makes a members-only room (§10.2: muc#roomconfig_membersonly).
    await join(toto, "Toto");
    await toto.send(xml("presence", { to: `${closed}/Toto` }, xml("x", { xmlns: NS.muc })));
    await toto.waitForPresence((p) => p.attrs.from === `${closed}/Toto`, "toto in the closed room");
    await toto.request(xml("iq", { type: "set", to: closed }, xml("query", { xmlns: NS.owner }, xml("x", { xmlns: NS.data, type: "submit" },
      xml("field", { var: "FORM_TYPE" }, xml("value", {}, "http://jabber.org/protocol/muc#roomconfig")),
      xml("field", { var: "muc#roomconfig_membersonly" }, xml("value", {}, "1"))))));
    await stack.db.query("INSERT INTO rooms (address, room_jid) VALUES ($1, $2)", [`closed@${MAIL_DOMAIN}`, closed]);
    const sent = await sendRaw(stack.gateway.smtpPort, alice, [`closed@${MAIL_DOMAIN}`], "Subject: Knock\r\n\r\nknock knock\r\n");
    assert.equal(sent.rcpt[0]!.code, 250, "accepted: the room's own rules are for the room to apply");
    const failed = await waitFor("the delivery failed", async () => (await stack.db.query<{ status: string; last_error: string }>(
      "SELECT status, last_error FROM deliveries WHERE recipient = $1", [`closed@${MAIL_DOMAIN}`]))[0], 30_000);
    await waitFor("failed", async () => (await stack.db.query<{ status: string }>("SELECT status FROM deliveries WHERE recipient = $1", [`closed@${MAIL_DOMAIN}`]))[0]?.status === "failed", 30_000);
    const row = (await stack.db.query<{ last_error: string }>("SELECT last_error FROM deliveries WHERE recipient = $1", [`closed@${MAIL_DOMAIN}`]))[0]!;
    assert.match(row.last_error, /members-only/, failed.last_error);
  });
});
