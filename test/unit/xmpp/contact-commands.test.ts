// XEP-0050 §2.2 commands on a correspondent's JID: listed there only, run at once with its address,
// never mixed with the gateway's own.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import xmppComponent from "@xmpp/component";
import { createCommands, type CommandSpec } from "../../../src/xmpp/commands.ts";
import type { BareJid, MailAddress } from "../../../src/core/types.ts";

const { xml } = xmppComponent;
const NS = "http://jabber.org/protocol/commands";
const USER = "toto@jabber.example.org" as BareJid;
const ALICE = { jid: "alice\\40example.com@mail.example.org", address: "alice@example.com" as MailAddress };

const ran: { jid: string; contact?: string }[] = [];
const specs: CommandSpec[] = [
  { node: "status", name: "Status", admin: false, run: async () => ({ note: "gateway" }) },
  { node: "block", name: "Block", admin: false, contact: true,
    run: async (jid, _v, contact) => { ran.push({ jid, ...(contact ? { contact } : {}) }); return { note: `blocked ${contact}` }; } },
];
const commands = createCommands({ domain: "mail.example.org" }, { commands: specs, isAdmin: () => false });
const exec = (node: string, contact?: typeof ALICE) => commands.execute(USER, xml("command", { xmlns: NS, node, action: "execute" }), contact);

describe("contact commands", () => {
  it("the contact's JID lists the contact commands, with its own JID; the gateway's lists its own", () => {
    const items = commands.items(USER, ALICE).getChildren("item");
    assert.deepEqual(items.map((i) => [i.attrs.node, i.attrs.jid]), [["block", ALICE.jid]]);
    assert.deepEqual(commands.items(USER).getChildren("item").map((i) => i.attrs.node), ["status"]);
    assert.ok(commands.info(USER, "block", ALICE));
    assert.equal(commands.info(USER, "block"), null);
    assert.equal(commands.info(USER, "status", ALICE), null);
  });

  it("runs at once with the contact's address; a gateway command is not found at a contact, nor the reverse", async () => {
    const done = await exec("block", ALICE);
    assert.equal(done.attrs.status, "completed");
    assert.equal(done.getChildText("note"), "blocked alice@example.com");
    assert.deepEqual(ran, [{ jid: USER, contact: "alice@example.com" }]);
    assert.equal((await exec("status", ALICE)).getChildElements()[0]!.name, "item-not-found");
    assert.equal((await exec("block")).getChildElements()[0]!.name, "item-not-found");
    assert.equal(ran.length, 1);
  });
});
