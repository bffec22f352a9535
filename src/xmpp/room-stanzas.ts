// XEP-0045 stanzas for the gateway's occupants (docs/design.md §Rooms with an address): joining, leaving,
// posting a mail, and reading what a room says about its occupants.
import xmppComponent, { type Element } from "@xmpp/component";
import { sanitizeText } from "../core/sanitize.ts";
import type { ChatFile, ChatMessage } from "../core/types.ts";
import { NS } from "./stanzas.ts";

const { xml } = xmppComponent;
const s = (value: string) => sanitizeText(value);

export const NS_MUC = "http://jabber.org/protocol/muc";
export const NS_MUC_USER = "http://jabber.org/protocol/muc#user";

/** §7.2.2: enter the room as `occupant` (room@service/nick), with no history (§7.2.15). */
export function joinPresence(from: string, occupant: string): Element {
  return xml("presence", { from: s(from), to: s(occupant) }, xml("x", { xmlns: NS_MUC }, xml("history", { maxstanzas: "0" })));
}

/** §7.14: leave the room. */
export function leavePresence(from: string, occupant: string): Element {
  return xml("presence", { from: s(from), to: s(occupant), type: "unavailable" });
}

/** A mail as a groupchat message (§7.4) from the occupant that stands for its sender. No XEP-0203 delay:
 * clients read a delayed groupchat message as room history, not as something new. */
export function roomMessage(message: ChatMessage, from: string, room: string): Element {
  return xml("message", { type: "groupchat", id: s(message.id), from: s(from), to: s(room) },
    xml("body", {}, s(message.body)),
    xml("origin-id", { xmlns: NS.sid, id: s(message.id) }),
  );
}

export function roomFile(file: ChatFile, from: string, room: string): Element {
  return xml("message", { type: "groupchat", id: s(file.id), from: s(from), to: s(room) },
    xml("body", {}, s(file.url)),
    xml("x", { xmlns: NS.oob }, xml("url", {}, s(file.url)), xml("desc", {}, s(file.name))),
    xml("origin-id", { xmlns: NS.sid, id: s(file.id) }),
  );
}

export interface MucPresence {
  /** the room's bare JID and the occupant's nick, from `from` */
  room: string;
  nick: string;
  unavailable: boolean;
  /** §7.2.3 status 110: this is our own occupant's presence */
  self: boolean;
  affiliation: string | null;
  role: string | null;
  /** the condition of a presence error (§7.2.6–§7.2.10) */
  error: string | null;
}

/** What a presence from room@service/nick says, or null when it is not a MUC presence. */
export function readMucPresence(stanza: Element): MucPresence | null {
  const from = String(stanza.attrs.from ?? "");
  const slash = from.indexOf("/");
  if (slash < 0) return null;
  const x = stanza.getChild("x", NS_MUC_USER);
  const error = stanza.attrs.type === "error" ? stanza.getChild("error") : null;
  if (!x && !error) return null;
  const item = x?.getChild("item");
  return {
    room: from.slice(0, slash).toLowerCase(), nick: from.slice(slash + 1),
    unavailable: stanza.attrs.type === "unavailable",
    self: Boolean(x?.getChildren("status").some((c) => c.attrs.code === "110")),
    affiliation: item?.attrs.affiliation ?? null, role: item?.attrs.role ?? null,
    error: error?.children.find((c): c is Element => typeof c !== "string" && c.attrs.xmlns === NS.stanzas)?.name ?? (error ? "undefined-condition" : null),
  };
}

/** XEP-0359 stanza-id the room stamped on a groupchat message (by = the room): what XEP-0461 replies name. */
export function roomStanzaId(stanza: Element, room: string): string | null {
  return stanza.getChildren("stanza-id", NS.sid).find((e) => String(e.attrs.by ?? "").toLowerCase() === room)?.attrs.id ?? null;
}
