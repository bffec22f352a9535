import assert from "node:assert/strict";
import { describe, it } from "node:test";
import xmppComponent, { type Element } from "@xmpp/component";
import { createPrivilege, privilegeOf } from "../../../src/xmpp/privilege.ts";
import type { BareJid } from "../../../src/core/types.ts";

const { xml } = xmppComponent;
const announce = (from: string, ns = "urn:xmpp:privilege:2") => xml("message", { from, to: "mail.example.org" },
  xml("privilege", { xmlns: ns }, xml("perm", { access: "roster", type: "both" }), xml("perm", { access: "message", type: "outgoing" })));
const user = "toto@example.org" as BareJid;

function setup() {
  const sent: Element[] = [];
  const p = createPrivilege({ domain: "mail.example.org", serverDomains: ["example.org"] },
    { send: async (s) => void sent.push(s), request: async () => xml("iq") });
  return { p, sent };
}

describe("XEP-0356 grants and sent copies", () => {
  it("trusts an announcement from our server's domain only", () => {
    const { p } = setup();
    for (const from of ["mallory@example.org/x", "mallory@example.org", "example.org/res", "evil.example"]) {
      const m = announce(from);
      assert.equal(p.onAnnouncement(m, privilegeOf(m)!), null, from);
    }
    assert.equal(p.canRoster(user, "set"), false);
    const m = announce("example.org");
    assert.deepEqual(p.onAnnouncement(m, privilegeOf(m)!), { ns: "urn:xmpp:privilege:2", roster: "both", message: "outgoing" });
    assert.equal(p.canRoster(user, "set"), true);
    assert.equal(p.canRoster("x@evil.example" as BareJid, "get"), false, "a grant covers its own host's users");
    p.reset();
    assert.equal(p.canMessage(user), false, "a new stream waits for a new announcement");
  });

  it("recognises its own message once, from the user's bare JID only, with the id it issued for that contact", async () => {
    const { p, sent } = setup();
    const m = announce("example.org");
    p.onAnnouncement(m, privilegeOf(m)!);
    assert.equal(await p.sendAsUser(user, "dave\\40example.net@mail.example.org", "hi", null), true);
    const inner = sent[0]!.getChild("privilege", "urn:xmpp:privilege:2")!.getChild("forwarded")!.getChild("message")!;
    const id = String(inner.attrs.id);
    const back = (from: string, to = "dave\\40example.net@mail.example.org") => xml("message", { from, to, id, type: "chat" });
    assert.equal(p.isEcho(back("mallory@example.org")), false, "an id from a stranger unlocks nothing");
    assert.equal(p.isEcho(back("toto@example.org/phone")), false, "a client of the user wrote it");
    assert.equal(p.isEcho(back("toto@example.org", "eve\\40example.net@mail.example.org")), false, "another contact");
    assert.equal(p.isEcho(back("toto@example.org")), true);
    assert.equal(p.isEcho(back("toto@example.org")), false, "once");
  });

  it("with privilege:1 (ejabberd 23.01) sends an explicit sent carbon to the user instead", async () => {
    const { p, sent } = setup();
    const m = announce("example.org", "urn:xmpp:privilege:1");
    p.onAnnouncement(m, privilegeOf(m)!);
    await p.sendAsUser(user, "dave\\40example.net@mail.example.org", "hi", null);
    const wrapped = sent[0]!.getChild("privilege", "urn:xmpp:privilege:1")!.getChild("forwarded")!.getChild("message")!;
    assert.equal(wrapped.attrs.to, user);
    assert.ok(wrapped.getChild("sent", "urn:xmpp:carbons:2"));
  });
});
