// Messages to the gateway's own JID (docs/design.md §Chat commands), without a server: what is a command,
// the rate before any work, the answer to the full JID that wrote, refusals with words.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import xmppComponent, { type Element } from "@xmpp/component";
import { createGatewayChat } from "../../../src/xmpp/gateway-chat.ts";
import { createLogger } from "../../../src/log.ts";

const { xml } = xmppComponent;
const DOMAIN = "mail.example.org";
const FROM = "toto@example.org/phone";
const STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas";

function chat(opts: { over?: string; answer?: (user: string, line: string) => Promise<string> } = {}) {
  const sent: Element[] = [];
  const lines: string[] = [];
  const handle = createGatewayChat({ domain: DOMAIN }, {
    send: async (s) => { sent.push(s); }, admit: () => opts.over ?? null, log: createLogger("silent"),
    answer: opts.answer ?? (async (user, line) => { lines.push(`${user} ${line}`); return `you said ${line}`; }),
  });
  return { sent, lines, handle };
}
const message = (attrs: Record<string, string>, ...children: Element[]) => xml("message", { from: FROM, to: DOMAIN, id: "m1", ...attrs }, ...children);
const body = (text: string) => xml("body", {}, text);
const errorOf = (s: Element) => [s.attrs.type, s.getChild("error")?.getChildElements().find((e) => e.attrs.xmlns === STANZAS)?.name,
  s.getChild("error")?.getChildText("text", STANZAS)];

describe("createGatewayChat", () => {
  it("answers a line as a chat message from the gateway's JID to the full JID that wrote", async () => {
    const { sent, lines, handle } = chat();
    await handle(message({ type: "chat" }, body("help")));
    await handle(message({}, body("status")));
    assert.deepEqual(lines, ["toto@example.org help", "toto@example.org status"]);
    assert.deepEqual(sent.map((s) => [s.attrs.type, s.attrs.from, s.attrs.to, s.getChildText("body")]),
      [["chat", DOMAIN, FROM, "you said help"], ["chat", DOMAIN, FROM, "you said status"]]);
  });
  it("chat states, receipts and headlines are not commands", async () => {
    const { sent, lines, handle } = chat();
    await handle(message({ type: "chat" }, xml("active", { xmlns: "http://jabber.org/protocol/chatstates" })));
    await handle(message({ type: "headline" }, body("news")));
    assert.deepEqual([sent, lines], [[], []]);
  });
  it("past the rate: resource-constraint with the words, before any work", async () => {
    const { sent, lines, handle } = chat({ over: "Too many commands." });
    await handle(message({ type: "chat" }, body("status")));
    assert.deepEqual(lines, []);
    assert.deepEqual(sent.map(errorOf), [["error", "resource-constraint", "Too many commands."]]);
    assert.equal(sent[0]!.attrs.id, "m1");
  });
  it("an encrypted line is refused with words; a failing command is internal-server-error", async () => {
    const { sent, handle } = chat({ answer: async () => { throw new Error("db down"); } });
    await handle(message({ type: "chat" }, body("I sent you an OMEMO message"), xml("encrypted", { xmlns: "eu.siacs.conversations.axolotl" })));
    await handle(message({ type: "chat" }, body("status")));
    assert.deepEqual(sent.map((s) => errorOf(s).slice(0, 2)), [["error", "not-acceptable"], ["error", "internal-server-error"]]);
    assert.match(String(errorOf(sent[0]!)[2]), /plain text/);
  });
});
