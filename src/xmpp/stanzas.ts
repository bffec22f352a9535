// Building stanzas. Every string passes sanitizeText here, at the assignment (invariant 3): ltx escapes
// markup but writes XML-forbidden characters as they are, and the server then drops the whole stream.
import xmppComponent, { type Element } from "@xmpp/component";
import { sanitizeText } from "../core/sanitize.ts";
import type { ChatMessage } from "../core/types.ts";

const { xml } = xmppComponent;
const s = (value: string) => sanitizeText(value);

export const NS = {
  nick: "http://jabber.org/protocol/nick", // XEP-0172
  delay: "urn:xmpp:delay", // XEP-0203
  sid: "urn:xmpp:sid:0", // XEP-0359
  hints: "urn:xmpp:hints", // XEP-0334
  stanzas: "urn:ietf:params:xml:ns:xmpp-stanzas", // RFC 6120 §8.3
  ping: "urn:xmpp:ping", // XEP-0199
  discoInfo: "http://jabber.org/protocol/disco#info", // XEP-0030
  discoItems: "http://jabber.org/protocol/disco#items",
  version: "jabber:iq:version", // XEP-0092
} as const;

/** A mail as a `type="chat"` message (design: Messages to XMPP). */
export function chatStanza(message: ChatMessage, componentDomain: string): Element {
  return xml("message", { type: "chat", id: s(message.id), from: s(message.from), to: s(message.to) },
    xml("body", {}, s(message.body)),
    message.nick ? xml("nick", { xmlns: NS.nick }, s(message.nick)) : null,
    message.delay ? xml("delay", { xmlns: NS.delay, from: componentDomain, stamp: message.delay.toISOString() }) : null,
    xml("origin-id", { xmlns: NS.sid, id: s(message.id) }),
    // XEP-0334: ask the server to keep it (offline storage, archive) like any chat message.
    xml("store", { xmlns: NS.hints }),
  );
}

/** RFC 6120 §8.3: an error reply to a message, with the original id; never in answer to an error. */
export function messageError(stanza: Element, type: string, condition: string, text: string): Element | null {
  if (stanza.attrs.type === "error") return null;
  return xml("message", { type: "error", id: stanza.attrs.id, from: stanza.attrs.to, to: stanza.attrs.from },
    xml("error", { type },
      xml(condition, { xmlns: NS.stanzas }),
      xml("text", { xmlns: NS.stanzas, "xml:lang": "en" }, s(text))));
}

export function pingStanza(from: string, to: string): Element {
  return xml("iq", { type: "get", from, to }, xml("ping", { xmlns: NS.ping }));
}

export interface StanzaErrorInfo { type: string; condition: string; text: string }

/** Read the RFC 6120 §8.3 error of a stanza of type "error". */
export function readError(stanza: Element): StanzaErrorInfo {
  const error = stanza.getChild("error");
  const condition = error?.getChildElements().find((c) => c.attrs.xmlns === NS.stanzas && c.name !== "text")?.name;
  return {
    type: error?.attrs.type ?? "cancel",
    condition: condition ?? "undefined-condition",
    text: error?.getChildText("text", NS.stanzas) ?? "",
  };
}
