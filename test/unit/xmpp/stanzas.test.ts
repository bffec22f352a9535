// Stanzas we write (docs/design.md §Contract, Messages to XMPP; invariant 3: no XML-forbidden character ever reaches the stream).
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import xmppComponent, { type Element } from "@xmpp/component";
import { chatStanza, messageError, NS, pingStanza, readError } from "../../../src/xmpp/stanzas.ts";
import type { ChatMessage } from "../../../src/core/types.ts";

const { xml } = xmppComponent;
const GW = "mail.jabber.example.org";
const ch = (...codes: number[]) => String.fromCharCode(...codes);
const XML_CHAR = /^[\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]*$/u;
// NUL, SOH, ESC, VT, FF, a lone high surrogate, U+FFFE, U+FFFF, a lone low surrogate.
const HOSTILE = `${ch(0)}${ch(1)}${ch(0x1b)}${ch(0x0b)}${ch(0x0c)}\uD800${ch(0xfffe)}${ch(0xffff)}\uDFFF`;

function message(over: Partial<ChatMessage> = {}): ChatMessage {
  return {
    id: "pm-42-1",
    from: `alice\\40example.com@${GW}`,
    to: "toto@jabber.example.org",
    body: "Lunch tomorrow?\n\nHi Toto",
    nick: "Alice Example",
    delay: null,
    ...over,
  };
}

describe("chatStanza", () => {
  it("is a chat message from the correspondent to the mailbox's JID with body, nick, origin-id and store hint", () => {
    const stanza = chatStanza(message(), GW);
    assert.equal(stanza.name, "message");
    assert.deepEqual(stanza.attrs, { type: "chat", id: "pm-42-1", from: `alice\\40example.com@${GW}`, to: "toto@jabber.example.org" });
    assert.equal(stanza.getChildText("body"), "Lunch tomorrow?\n\nHi Toto");
    assert.equal(stanza.getChildText("nick", NS.nick), "Alice Example");
    assert.equal(NS.nick, "http://jabber.org/protocol/nick");
    assert.equal(stanza.getChild("origin-id", "urn:xmpp:sid:0")?.attrs.id, "pm-42-1");
    assert.ok(stanza.getChild("store", "urn:xmpp:hints"));
    assert.equal(stanza.getChild("delay", NS.delay), undefined);
  });

  it("serialises to exactly the expected XML", () => {
    assert.equal(chatStanza(message({ body: "hi", nick: null }), GW).toString(),
      `<message type="chat" id="pm-42-1" from="alice\\40example.com@${GW}" to="toto@jabber.example.org">` +
      "<body>hi</body>" +
      '<origin-id xmlns="urn:xmpp:sid:0" id="pm-42-1"/>' +
      '<request xmlns="urn:xmpp:receipts"/>' +
      '<store xmlns="urn:xmpp:hints"/>' +
      "</message>");
  });

  it("has no nick element when there is no display name", () => {
    assert.equal(chatStanza(message({ nick: null }), GW).getChild("nick", NS.nick), undefined);
    assert.equal(chatStanza(message({ nick: "" }), GW).getChild("nick", NS.nick), undefined);
  });

  it("adds a XEP-0203 delay from the component domain with the UTC stamp", () => {
    const stanza = chatStanza(message({ delay: new Date("2024-01-02T03:04:05.000Z") }), GW);
    assert.deepEqual(stanza.getChild("delay", "urn:xmpp:delay")?.attrs,
      { xmlns: "urn:xmpp:delay", from: GW, stamp: "2024-01-02T03:04:05.000Z" });
  });

  it("escapes markup in the body and the nick", () => {
    const xmlText = chatStanza(message({ body: "<script>a & b</script>", nick: "<b>Eve</b> & co" }), GW).toString();
    assert.ok(xmlText.includes("<body>&lt;script&gt;a &amp; b&lt;/script&gt;</body>"), xmlText);
    assert.ok(xmlText.includes("&lt;b&gt;Eve&lt;/b&gt; &amp; co</nick>"), xmlText);
    assert.doesNotMatch(xmlText, /<script>/);
  });

  it("contains no XML-forbidden character even when every field carries them", () => {
    const stanza = chatStanza(message({
      id: `id${HOSTILE}1`,
      from: `alice${HOSTILE}\\40example.com@${GW}`,
      to: `toto${HOSTILE}@jabber.example.org`,
      body: `Sub${HOSTILE}ject\n\nte\txt${HOSTILE}\r\nend \uD83D\uDE00`,
      nick: `Ali${HOSTILE}ce`,
      delay: new Date(0),
    }), GW);
    const xmlText = stanza.toString();
    assert.match(xmlText, XML_CHAR);
    assert.equal(stanza.attrs.id, "id1");
    assert.equal(stanza.attrs.to, "toto@jabber.example.org");
    assert.equal(stanza.attrs.from, `alice\\40example.com@${GW}`);
    assert.equal(stanza.getChildText("body"), "Subject\n\nte\txt\r\nend \uD83D\uDE00");
    assert.equal(stanza.getChildText("nick", NS.nick), "Alice");
    assert.equal(stanza.getChild("origin-id", NS.sid)?.attrs.id, "id1");
  });
});

describe("messageError", () => {
  const incoming = xml("message", { type: "chat", id: "m1", from: "toto@jabber.example.org/phone", to: `alice\\40example.com@${GW}` },
    xml("body", {}, "hello"));

  it("answers with the original id, from and to swapped, a RFC 6120 condition and text", () => {
    const reply = messageError(incoming, "cancel", "forbidden", "no mailbox for this account");
    assert.ok(reply);
    assert.equal(reply.toString(),
      `<message type="error" id="m1" from="alice\\40example.com@${GW}" to="toto@jabber.example.org/phone">` +
      '<error type="cancel">' +
      '<forbidden xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/>' +
      '<text xmlns="urn:ietf:params:xml:ns:xmpp-stanzas" xml:lang="en">no mailbox for this account</text>' +
      "</error></message>");
  });

  it("never answers an error", () => {
    const error = xml("message", { type: "error", id: "m2", from: "toto@jabber.example.org", to: GW });
    assert.equal(messageError(error, "cancel", "forbidden", "x"), null);
  });

  it("sanitises the text (it may quote a relay's answer)", () => {
    const reply = messageError(incoming, "modify", "not-acceptable", `550 5.1.1${HOSTILE} unknown`);
    assert.ok(reply);
    assert.match(reply.toString(), XML_CHAR);
    assert.equal(reply.getChild("error")?.getChildText("text", NS.stanzas), "550 5.1.1 unknown");
  });

  it("round-trips through readError", () => {
    const reply = messageError(incoming, "wait", "resource-constraint", "queue full");
    assert.ok(reply);
    assert.deepEqual(readError(reply), { type: "wait", condition: "resource-constraint", text: "queue full" });
  });
});

describe("readError", () => {
  const errorStanza = (...children: Element[]) =>
    xml("message", { type: "error", id: "pm-1", from: "toto@jabber.example.org", to: GW }, ...children);

  it("reads type, condition and text", () => {
    const stanza = errorStanza(xml("error", { type: "cancel" },
      xml("text", { xmlns: NS.stanzas }, "gone"),
      xml("service-unavailable", { xmlns: NS.stanzas })));
    assert.deepEqual(readError(stanza), { type: "cancel", condition: "service-unavailable", text: "gone" });
  });

  it("ignores application-specific children outside the stanzas namespace", () => {
    const stanza = errorStanza(xml("error", { type: "wait" },
      xml("too-many", { xmlns: "urn:example:app" }),
      xml("resource-constraint", { xmlns: NS.stanzas })));
    assert.deepEqual(readError(stanza), { type: "wait", condition: "resource-constraint", text: "" });
  });

  it("defaults to cancel / undefined-condition when the error is missing or empty", () => {
    assert.deepEqual(readError(errorStanza()), { type: "cancel", condition: "undefined-condition", text: "" });
    assert.deepEqual(readError(errorStanza(xml("error", {}))), { type: "cancel", condition: "undefined-condition", text: "" });
  });
});

describe("pingStanza", () => {
  it("is a XEP-0199 iq get", () => {
    assert.equal(pingStanza(GW, "jabber.example.org").toString(),
      `<iq type="get" from="${GW}" to="jabber.example.org"><ping xmlns="urn:xmpp:ping"/></iq>`);
  });
});
