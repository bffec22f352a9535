// A contact's presence as clients show it (docs/design.md §Presence): from a full JID with the fixed
// resource `mail` (Gajim shows only presences from a resource), exactly once per login of a resource (the
// answer to its server's probe; one probe, one answer is unit-tested in test/unit/xmpp/presence.test.ts),
// on Prosody and on ejabberd, real clients. The count is taken after a ping the gateway answers in order
// behind the presence the login caused (RFC 6120 §10.1: one sender, one queue).
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { sendMail } from "../support/smtp.ts";
import { COMPONENT_DOMAIN, contactJid, MAIL_DOMAIN, startStack, type Stack } from "../support/stack.ts";
import { waitFor } from "../support/wait.ts";
import { connectClient, xml, type ChatClient, type Element } from "../support/xmpp-client.ts";

const RESOURCE = "mail";
const bare = (jid: unknown) => String(jid ?? "").split("/")[0]!.toLowerCase();

for (const server of ["prosody", "ejabberd"] as const) describe(`contact presence (${server})`, () => {
  let stack: Stack;
  let toto: ChatClient;
  const alice = contactJid("alice@example.com");
  const bob = contactJid("bob@example.org");

  before(async () => {
    stack = await startStack({ server });
    toto = (await stack.user("toto"))!;
  });
  after(async () => { await stack?.close(); });

  /** Every presence of `type` from `contact` a client got, whatever its resource. */
  const from = (c: ChatClient, contact: string, type?: string) =>
    c.presences.filter((p) => bare(p.attrs.from) === contact.toLowerCase() && p.attrs.type === type);
  /** The gateway has handled everything this client's account sent before. */
  const settled = (c: ChatClient) => c.request(xml("iq", { type: "get", to: COMPONENT_DOMAIN }, xml("ping", { xmlns: "urn:xmpp:ping" })));

  /** Both ways, as a user adds a contact: subscribe, approve the gateway's request back. */
  async function subscribe(contact: string) {
    await toto.send(xml("presence", { type: "subscribe", to: contact }));
    await toto.waitForPresence((p) => bare(p.attrs.from) === contact && p.attrs.type === "subscribe", "the subscription asked back");
    await toto.send(xml("presence", { type: "subscribed", to: contact }));
    await waitFor("both ways in the database", async () => (await stack.db.query(
      "SELECT 1 FROM subscriptions WHERE user_jid = 'toto@localhost' AND contact_jid = $1 AND from_user AND to_user", [contact])).length === 1);
    await settled(toto);
  }

  it("subscribing: available from contact/mail once per reason (the approval, a probe); the user's own presence is not answered", async () => {
    await sendMail(stack.gateway.smtpPort, { from: '"Alice" <alice@example.com>', to: `toto@${MAIL_DOMAIN}`, subject: "hi", text: "x" });
    await subscribe(alice);
    await subscribe(bob);
    // RFC 6121 §3.1.5: the approval is followed by the contact's presence. Prosody also probes the contact
    // once the user approves the request back (mod_presence); ejabberd does not: that probe has its answer.
    const expected = server === "prosody" ? 2 : 1;
    for (const contact of [alice, bob]) {
      const seen = from(toto, contact);
      assert.deepEqual(seen.map((p) => p.attrs.from), Array(expected).fill(`${contact}/${RESOURCE}`), `available presence from ${contact}`);
      assert.equal(seen[0]!.getChildText("status"), "E-mail");
    }
    // A presence update of the user's (their server broadcasts it to the contacts, §4.4.2) asks nothing.
    await toto.send(xml("presence", {}, xml("show", {}, "away")));
    await settled(toto);
    for (const contact of [alice, bob]) assert.equal(from(toto, contact).length, expected, `no answer to a broadcast, ${contact}`);
  });

  it("a login receives exactly one available presence per subscribed contact, from the fixed resource", async () => {
    const phone = await connectClient(stack.server.c2sPort, stack.server.domain, "toto", "secret", { resource: "phone" });
    try {
      await settled(phone);
      for (const contact of [alice, bob]) {
        assert.deepEqual(from(phone, contact).map((p) => p.attrs.from), [`${contact}/${RESOURCE}`], `one presence from ${contact} at login`);
      }
      // A second login in a row: one more each, no more.
      const laptop = await connectClient(stack.server.c2sPort, stack.server.domain, "toto", "secret", { resource: "laptop" });
      try {
        await settled(laptop);
        for (const contact of [alice, bob]) assert.equal(from(laptop, contact).length, 1, `one presence from ${contact} at the second login`);
      } finally {
        await laptop.stop();
      }
    } finally {
      await phone.stop();
    }
  });

  it("unsubscribing: unavailable from the same full JID, once", async () => {
    await toto.send(xml("presence", { type: "unsubscribe", to: bob }));
    await settled(toto);
    const gone: Element[] = from(toto, bob, "unavailable");
    assert.deepEqual(gone.map((p) => p.attrs.from), [`${bob}/${RESOURCE}`]);
  });
});
