// The gateway's occupants (src/xmpp/rooms.ts): joining for a mail, the room's answer deciding, and which
// members' messages speak for the room (XEP-0045 §5.2), against a scripted room.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import xmppComponent, { type Element } from "@xmpp/component";
import { createRoomOccupants } from "../../../src/xmpp/rooms.ts";
import { roomNick } from "../../../src/queue/rooms.ts";
import type { Logger } from "../../../src/log.ts";

const { xml } = xmppComponent;
const ROOM = "club@conference.example";
const CONTACT = "alice\\40example.com@mail.example";
const USER = "http://jabber.org/protocol/muc#user";
const occupantPresence = (nick: string, affiliation: string, role: string, to: string, self = false) =>
  xml("presence", { from: `${ROOM}/${nick}`, to }, xml("x", { xmlns: USER }, xml("item", { affiliation, role }),
    self ? xml("status", { code: "110" }) : null));

function scriptedRoom(answer: (join: Element) => Element[]) {
  const sent: Element[] = [];
  let occupants: ReturnType<typeof createRoomOccupants>;
  const log = { warn: () => undefined, debug: () => undefined } as unknown as Logger;
  occupants = createRoomOccupants({ resource: "mail", quietMs: 60_000, joinTimeoutMs: 2000, perRoom: 2, total: 3 }, {
    log, discoInfo: async () => xml("iq"),
    send: async (stanza) => {
      sent.push(stanza);
      if (stanza.is("presence") && !stanza.attrs.type) for (const p of answer(stanza)) queueMicrotask(() => occupants.onPresence(p));
    },
  });
  return { occupants, sent };
}

describe("roomNick", () => {
  it("is the sender's name or address, marked as mail, on one bounded line", () => {
    assert.equal(roomNick("Alice Martin", "alice@example.com"), "Alice Martin (mail)");
    assert.equal(roomNick(null, "alice@example.com"), "alice@example.com (mail)");
    assert.equal(roomNick("A\nB\u202E", null), "A B (mail)");
    assert.ok(roomNick("x".repeat(300), null).length <= 55);
  });
});

describe("room occupants", () => {
  const real = `${CONTACT}/mail`;
  const joined = (join: Element) => [occupantPresence("Bob", "member", "participant", real), occupantPresence("Carol", "none", "participant", real),
    occupantPresence(String(join.attrs.to).split("/")[1]!, "none", "participant", real, true)];

  it("joins once, then reads a member's reply to its post as chat from the room, and refuses a non-member", async () => {
    const { occupants, sent } = scriptedRoom(joined);
    await occupants.enter(CONTACT, ROOM, "Alice Martin (mail)");
    await occupants.enter(CONTACT, ROOM, "Alice Martin (mail)");
    assert.equal(sent.filter((s) => s.is("presence")).length, 1, "one join");
    await occupants.post({ id: "post-1", from: CONTACT, to: ROOM, body: "Picnic", nick: "Alice Martin", delay: null, room: true });
    const reply = (nick: string) => xml("message", { type: "groupchat", from: `${ROOM}/${nick}`, to: real, id: `${nick}-1` },
      xml("body", {}, "Yes"), xml("reply", { xmlns: "urn:xmpp:reply:0", to: `${ROOM}/Alice Martin (mail)`, id: "post-1" }));
    const bob = occupants.onMessage(reply("Bob"));
    assert.ok(bob && "chat" in bob);
    assert.equal(bob.chat.from, `${ROOM}/Bob`);
    assert.equal(bob.chat.to, CONTACT);
    assert.equal(bob.chat.replyTo, "post-1");
    assert.equal(occupants.onMessage(reply("Bob")), null, "a second copy of the same reply is not answered again");
    const carol = occupants.onMessage(reply("Carol"));
    assert.ok(carol && "refuse" in carol && /Only members/.test(carol.refuse));
    // A member without voice (role visitor, §5.1) does not speak for the room either.
    occupants.onPresence(occupantPresence("Bob", "member", "visitor", real));
    const muted = occupants.onMessage(xml("message", { type: "chat", from: `${ROOM}/Bob`, to: real, id: "bob-pm" }, xml("body", {}, "psst")));
    assert.ok(muted && "refuse" in muted);
    // Room talk that answers nothing of ours is nobody's mail.
    assert.equal(occupants.onMessage(xml("message", { type: "groupchat", from: `${ROOM}/Bob`, to: real, id: "x" }, xml("body", {}, "chatter"))), null);
  });

  it("a refused join is permanent when the room's rules say so, with the reason", async () => {
    const { occupants } = scriptedRoom((join) => [xml("presence", { from: join.attrs.to, to: real, type: "error" },
      xml("error", { type: "auth" }, xml("registration-required", { xmlns: "urn:ietf:params:xml:ns:xmpp-stanzas" })))]);
    await assert.rejects(occupants.enter(CONTACT, ROOM, "Alice Martin (mail)"), (err: Error & { permanent?: boolean }) =>
      err.permanent === true && /members-only/.test(err.message));
  });

  it("a moderated room that gives no voice is refused, and the occupant leaves", async () => {
    const { occupants, sent } = scriptedRoom((join) => [occupantPresence(String(join.attrs.to).split("/")[1]!, "none", "visitor", real, true)]);
    await assert.rejects(occupants.enter(CONTACT, ROOM, "Alice Martin (mail)"), /moderated/);
    assert.equal(sent.at(-1)!.attrs.type, "unavailable");
  });

  it("past ROOM_OCCUPANTS_PER_ROOM the occupant quiet longest leaves before another joins", async () => {
    const { occupants, sent } = scriptedRoom((join) => [occupantPresence(String(join.attrs.to).split("/")[1]!, "none", "participant",
      String(join.attrs.from), true)]);
    const contact = (n: number) => `sender${n}\\40example.com@mail.example`;
    for (const n of [1, 2, 3]) await occupants.enter(contact(n), ROOM, `Sender ${n} (mail)`);
    const leaves = sent.filter((p) => p.attrs.type === "unavailable");
    assert.deepEqual(leaves.map((p) => p.attrs.from), [`${contact(1)}/mail`], "perRoom is 2: the first one left");
  });

  it("a nick in use gets a number", async () => {
    let tries = 0;
    const { occupants, sent } = scriptedRoom((join) => tries++ === 0
      ? [xml("presence", { from: join.attrs.to, to: real, type: "error" }, xml("error", { type: "cancel" }, xml("conflict", { xmlns: "urn:ietf:params:xml:ns:xmpp-stanzas" })))]
      : joined(join));
    await occupants.enter(CONTACT, ROOM, "Alice Martin (mail)");
    assert.equal(sent.filter((s) => s.is("presence")).at(-1)!.attrs.to, `${ROOM}/Alice Martin (mail) 2`);
  });
});
