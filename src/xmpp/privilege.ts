// XEP-0356 Privileged Entity: the permissions our server grants the component, and the stanzas they
// allow (a user's roster, a message as the user). Nothing privileged is sent without a grant announced
// on the stream in course: each new stream forgets them, and the server announces again (§4.2) (docs/design.md §Roster and privileges).
import { randomBytes } from "node:crypto";
import xmppComponent, { type Element } from "@xmpp/component";
import { sanitizeLine, sanitizeText } from "../core/sanitize.ts";
import type { BareJid } from "../core/types.ts";

const { xml } = xmppComponent;

/** Prosody's mod_privilege speaks :2; ejabberd 23.01 (p1_xmpp 1.6) speaks :1 only. */
export const NS_PRIVILEGE = ["urn:xmpp:privilege:2", "urn:xmpp:privilege:1"] as const;
const NS_ROSTER = "jabber:iq:roster";
const NS_FORWARD = "urn:xmpp:forward:0";
const NS_CARBONS = "urn:xmpp:carbons:2";

export interface Grant {
  /** the namespace the server announced in: our privileged stanzas use the same */
  ns: string;
  roster: "none" | "get" | "set" | "both";
  message: "none" | "outgoing";
}

export interface RosterItem { jid: string; name: string | null; subscription: string; groups: string[] }

/** The <privilege/> child of a message, in either version, or null. */
export function privilegeOf(stanza: Element): Element | null {
  for (const ns of NS_PRIVILEGE) {
    const child = stanza.getChild("privilege", ns);
    if (child) return child;
  }
  return null;
}

/** XEP-0356 §4.2: the <perm access type/> list of an announcement. */
export function readGrant(privilege: Element): Grant {
  const perm = (access: string) => privilege.getChildren("perm").find((p) => p.attrs.access === access)?.attrs.type as string | undefined;
  const roster = perm("roster");
  return {
    ns: String(privilege.attrs.xmlns),
    roster: roster === "get" || roster === "set" || roster === "both" ? roster : "none",
    message: perm("message") === "outgoing" ? "outgoing" : "none",
  };
}

const hostOf = (jid: string) => jid.slice(jid.lastIndexOf("@") + 1).split("/")[0]!.toLowerCase();

export interface PrivilegeDeps {
  send(stanza: Element): Promise<void>;
  request(stanza: Element, timeoutMs: number): Promise<Element>;
}

export interface EchoKey { user: BareJid; to: string; id: string }

const ECHO_MAX = 1000;
const ECHO_TTL_MS = 10 * 60_000;
const IQ_TIMEOUT_MS = 10_000;

export function createPrivilege(config: { domain: string; serverDomains: string[] }, deps: PrivilegeDeps) {
  const trusted = new Set(config.serverDomains.map((d) => d.toLowerCase()));
  const grants = new Map<string, Grant>();
  /** hosts that granted roster writes yet refused one (ejabberd 23.01, fixed in 23.10): none more this stream */
  const setRefused = new Set<string>();
  /** ids of messages we sent as a user (§message), expected back once from the user's bare JID */
  const echoes = new Map<string, number>();
  const echoKey = (user: string, to: string, id: string) => `${user.toLowerCase()}\n${to.toLowerCase()}\n${id}`;

  const grantFor = (user: BareJid): Grant | null => {
    return grants.get(hostOf(user)) ?? null;
  };
  const canRoster = (user: BareJid, need: "get" | "set") => {
    const r = grantFor(user)?.roster;
    if (need === "set" && setRefused.has(hostOf(user))) return false;
    return r === "both" || r === need;
  };

  const sendSet = (user: BareJid, contact: string, name: string, groups: string[]) =>
    deps.request(xml("iq", { type: "set", from: config.domain, to: user },
      xml("query", { xmlns: NS_ROSTER }, xml("item", { jid: contact, name: sanitizeLine(name), subscription: "both" },
        ...[...new Set(groups.map(sanitizeLine))].map((g) => xml("group", {}, g))))), IQ_TIMEOUT_MS);

  return {
    /**
     * An announcement: trusted only from one of our server's own domains (a bare domain JID, which the
     * server stamps, RFC 6120 §8.1.2.1); from anyone else it changes nothing. The grant taken, or null.
     */
    onAnnouncement(stanza: Element, privilege: Element): Grant | null {
      const from = String(stanza.attrs.from ?? "").toLowerCase();
      if (from.includes("@") || from.includes("/") || !trusted.has(from)) return null;
      if (String(stanza.attrs.to ?? "").toLowerCase() !== config.domain.toLowerCase()) return null;
      const grant = readGrant(privilege);
      grants.set(from, grant);
      return grant;
    },
    grantFor,
    /** A stream begins or ends: what was granted on the last one no longer holds. */
    reset: () => {
      grants.clear();
      setRefused.clear();
    },
    canRoster,
    canMessage: (user: BareJid) => grantFor(user)?.message === "outgoing",

    /** XEP-0356 §roster: the item for `contact` in the user's roster (a get returns the whole roster). */
    async rosterItem(user: BareJid, contact: string): Promise<RosterItem | null> {
      const reply = await deps.request(xml("iq", { type: "get", from: config.domain, to: user }, xml("query", { xmlns: NS_ROSTER })), IQ_TIMEOUT_MS);
      const item = reply.getChild("query", NS_ROSTER)?.getChildren("item")
        .find((i) => String(i.attrs.jid ?? "").toLowerCase() === contact.toLowerCase());
      if (!item) return null;
      return { jid: String(item.attrs.jid), name: (item.attrs.name as string | undefined) || null,
        subscription: String(item.attrs.subscription ?? "none"), groups: item.getChildren("group").map((g) => g.getText()) };
    },
    /** RFC 6121 §2.3 roster set on the user's behalf; subscription "both" where the server takes it (Prosody). */
    async rosterSet(user: BareJid, contact: string, name: string, groups: string[]): Promise<void> {
      await sendSet(user, contact, name, groups).catch((err: Error & { condition?: string }) => {
        // A stanza error (not a timeout) means the server will not do it: do not ask again on this stream.
        if (err.condition) setRefused.add(hostOf(user));
        throw err;
      });
    },

    /**
     * The user's own mail as a message they sent to `contact` (XEP-0356 §message). With :2 the server
     * handles it as the user's (XEP-0280 carbons, archive) and routes it back to us: remembered by its
     * id for `isEcho`. With :1 (ejabberd 23.01, which routes it straight on) an explicit XEP-0280 §6
     * "sent" carbon to the user's bare JID instead, which never comes back.
     */
    async sendAsUser(user: BareJid, contact: string, body: string, subject: string | null): Promise<boolean> {
      const grant = grantFor(user);
      if (grant?.message !== "outgoing") return false;
      const id = `pm-${randomBytes(9).toString("base64url")}`;
      const inner = (extra: Record<string, string>) => xml("message", { xmlns: "jabber:client", type: "chat", from: user, to: contact, id, ...extra },
        subject ? xml("subject", {}, sanitizeText(subject)) : null, xml("body", {}, sanitizeText(body)));
      const wrapped = grant.ns === NS_PRIVILEGE[0]
        ? inner({})
        : xml("message", { xmlns: "jabber:client", type: "chat", from: user, to: user },
          xml("sent", { xmlns: NS_CARBONS }, xml("forwarded", { xmlns: NS_FORWARD }, inner({}))));
      if (grant.ns === NS_PRIVILEGE[0]) {
        const now = Date.now();
        for (const [k, at] of echoes) if (echoes.size >= ECHO_MAX || now - at > ECHO_TTL_MS) echoes.delete(k); else break;
        echoes.set(echoKey(user, contact, id), now);
      }
      await deps.send(xml("message", { from: config.domain, to: hostOf(user) },
        xml("privilege", { xmlns: grant.ns }, xml("forwarded", { xmlns: NS_FORWARD }, wrapped))));
      return true;
    },
    /**
     * Our own message back from the server: from the user's bare JID exactly (a resource means one of
     * their clients wrote it), to that contact, with an id we issued for that pair; taken once. An id
     * alone, from anyone else, matches nothing.
     */
    isEcho(stanza: Element): boolean {
      const from = String(stanza.attrs.from ?? "");
      const id = stanza.attrs.id as string | undefined;
      if (!id || from.includes("/")) return false;
      const key = echoKey(from, String(stanza.attrs.to ?? "").split("/")[0]!, id);
      const at = echoes.get(key);
      if (at === undefined || Date.now() - at > ECHO_TTL_MS) return false;
      echoes.delete(key);
      return true;
    },
  };
}

export type Privilege = ReturnType<typeof createPrivilege>;
