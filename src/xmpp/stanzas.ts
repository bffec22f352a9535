// Building stanzas. Every string passes sanitizeText here, at the assignment (invariant 3): ltx escapes
// markup but writes XML-forbidden characters as they are, and the server then drops the whole stream.
import { randomUUID } from "node:crypto";
import xmppComponent, { type Element } from "@xmpp/component";
import { sanitizeText } from "../core/sanitize.ts";
import type { IncomingChat } from "../core/outbound.ts";
import type { ChatFile, ChatMessage } from "../core/types.ts";

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
  gateway: "jabber:iq:gateway", // XEP-0100
  register: "jabber:iq:register", // XEP-0077
  commands: "http://jabber.org/protocol/commands", // XEP-0050
  receipts: "urn:xmpp:receipts", // XEP-0184
  vcard: "vcard-temp", // XEP-0054
  oob: "jabber:x:oob", // XEP-0066
} as const;

/** A mail as a `type="chat"` message (docs/design.md §Contract, Messages to XMPP). */
export function chatStanza(message: ChatMessage, componentDomain: string): Element {
  return xml("message", { type: "chat", id: s(message.id), from: s(message.from), to: s(message.to) },
    xml("body", {}, s(message.body)),
    message.nick ? xml("nick", { xmlns: NS.nick }, s(message.nick)) : null,
    message.delay ? xml("delay", { xmlns: NS.delay, from: componentDomain, stamp: message.delay.toISOString() }) : null,
    xml("origin-id", { xmlns: NS.sid, id: s(message.id) }),
    // XEP-0184 §5.1: ask the client to acknowledge; its receipt is recorded (deliveries.receipt_at).
    xml("request", { xmlns: NS.receipts }),
    // XEP-0334: ask the server to keep it (offline storage, archive) like any chat message.
    xml("store", { xmlns: NS.hints }),
  );
}

/** An attachment as its own message: the URL as body and in XEP-0066 <x xmlns="jabber:x:oob">, which
 * clients (Conversations, Gajim, Dino) show inline for images. Same sender, same delay as the mail. */
export function fileStanza(message: ChatMessage, file: ChatFile, componentDomain: string): Element {
  return xml("message", { type: "chat", id: s(file.id), from: s(message.from), to: s(message.to) },
    xml("body", {}, s(file.url)),
    xml("x", { xmlns: NS.oob }, xml("url", {}, s(file.url)), xml("desc", {}, s(file.name))),
    message.delay ? xml("delay", { xmlns: NS.delay, from: componentDomain, stamp: message.delay.toISOString() }) : null,
    xml("origin-id", { xmlns: NS.sid, id: s(file.id) }),
    xml("store", { xmlns: NS.hints }),
  );
}

/** RFC 6120 §8.3: an error about a message we received earlier, sent later (the relay refused it). */
export function laterError(from: string, to: string, id: string | null, condition: string, text: string): Element {
  return xml("message", { type: "error", id: id ?? undefined, from: s(from), to: s(to) },
    xml("error", { type: "cancel" },
      xml(condition, { xmlns: NS.stanzas }),
      xml("text", { xmlns: NS.stanzas, "xml:lang": "en" }, s(text))));
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

const ENCRYPTION: ReadonlyArray<readonly [string, string, string]> = [
  ["encrypted", "eu.siacs.conversations.axolotl", "OMEMO"], // XEP-0384 (legacy namespace)
  ["encrypted", "urn:xmpp:omemo:2", "OMEMO"],
  ["openpgp", "urn:xmpp:openpgp:0", "OpenPGP for XMPP"], // XEP-0373
  ["x", "jabber:x:encrypted", "legacy OpenPGP"], // XEP-0027
  ["encryption", "urn:xmpp:eme:0", "end-to-end encryption"], // XEP-0380
];

/** A user's message to one of our contacts, as plain data for the outgoing side. */
export function readChat(stanza: Element): IncomingChat {
  const body = stanza.getChildText("body");
  const reply = stanza.getChild("reply", "urn:xmpp:reply:0"); // XEP-0461
  const fallback = stanza.getChildren("fallback", "urn:xmpp:fallback:0") // XEP-0428
    .filter((f) => f.attrs.for === "urn:xmpp:reply:0")
    .flatMap((f) => f.getChildren("body"))
    .map((b) => ({ start: Number(b.attrs.start ?? 0), end: Number(b.attrs.end ?? 0) }))
    .filter((r) => Number.isInteger(r.start) && Number.isInteger(r.end) && r.end > r.start);
  const marked = ENCRYPTION.find(([name, ns]) => stanza.getChild(name, ns));
  const otr = body?.startsWith("?OTR") ? "OTR" : null; // OTR messages are body text
  return {
    id: stanza.attrs.id ?? null,
    from: stanza.attrs.from ?? "",
    to: stanza.attrs.to ?? "",
    body,
    subject: stanza.getChildText("subject"),
    replyTo: reply?.attrs.id ?? null,
    fallback,
    encrypted: marked ? marked[2] : otr,
    receiptRequested: Boolean(stanza.getChild("request", "urn:xmpp:receipts")), // XEP-0184
    nick: stanza.getChildText("nick", NS.nick),
    oobUrl: stanza.getChild("x", NS.oob)?.getChildText("url") ?? null, // XEP-0066
  };
}

/** XEP-0184 receipt for a message the relay accepted. */
export function receiptStanza(from: string, to: string, id: string): Element {
  return xml("message", { from, to, id: `receipt-${id}` }, xml("received", { xmlns: NS.receipts, id }),
    xml("origin-id", { xmlns: NS.sid, id: `receipt-${id}` }));
}

/** A short notice from a contact to the user (delays, refusals that are not errors). */
export function noticeStanza(from: string, to: string, text: string): Element {
  // XEP-0359: an origin-id on everything we originate, so clients and archives can refer to it.
  const id = `notice-${randomUUID()}`;
  return xml("message", { type: "chat", id, from: s(from), to: s(to) }, xml("body", {}, s(text)),
    xml("origin-id", { xmlns: NS.sid, id }));
}

/** RFC 6121 §3.1.1 a subscription request (named, XEP-0172, and explained), §3.3.1 its cancel, §4.3 a probe:
 * from the gateway's own domain to a user, for the presence badge (docs/design.md §Presence badges). */
export function gatewayPresence(domain: string, to: string, type: "subscribe" | "unsubscribe" | "probe"): Element {
  return xml("presence", { from: domain, to, type },
    type === "subscribe" ? xml("nick", { xmlns: NS.nick }, "E-mail gateway") : null,
    type === "subscribe" ? xml("status", {}, "For your presence badge: the gateway shows whether you are online on the badge's web address.") : null);
}

/** RFC 6121 §3.1.1 from a contact to a user, named with XEP-0172 §4.2 (a nick in a subscription request). */
export function subscribeStanza(from: string, to: string, nick: string | null): Element {
  return xml("presence", { type: "subscribe", from: s(from), to: s(to) }, nick ? xml("nick", { xmlns: NS.nick }, s(nick)) : null);
}

/** RFC 6121 §4.2: our available presence: a contact's, from its full JID (docs/design.md §Presence), or the
 * gateway's, from its domain. */
export function availablePresence(from: string, to: string, status = "E-mail"): Element {
  return xml("presence", { from: s(from), to: s(to) }, xml("status", {}, s(status)));
}
