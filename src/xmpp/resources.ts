// The users' online clients as the gateway sees them (presence they send the gateway's domain, RFC 6121
// §4.2) and what each can do (XEP-0115 caps, disco#info once per caps version, XEP-0030): used only to send
// XEP-0144 roster item exchange to clients that announce it. Bounded: clients per user, users, versions.
import xmppComponent, { type Element } from "@xmpp/component";
import { sanitizeLine } from "../core/sanitize.ts";
import type { BareJid } from "../core/types.ts";

const { xml } = xmppComponent;

export const NS_ROSTERX = "http://jabber.org/protocol/rosterx";
const NS_CAPS = "http://jabber.org/protocol/caps";
const NS_INFO = "http://jabber.org/protocol/disco#info";

const PER_USER = 10;
const USERS = 10_000;
const VERSIONS = 1000;
const DISCO_TIMEOUT_MS = 5000;

export interface ResourceDeps {
  request(stanza: Element, timeoutMs: number): Promise<Element>;
  send(stanza: Element): Promise<void>;
}

export function createResources(config: { domain: string }, deps: ResourceDeps) {
  /** bare JID → full JID → caps node#ver (or null when it sent none) */
  const online = new Map<string, Map<string, string | null>>();
  /** user + caps node#ver → whether that client version takes XEP-0144; per user, so that no one's
   * answer (unverified, XEP-0115 §5.4) speaks for another's client */
  const versions = new Map<string, boolean>();

  async function supports(full: string, caps: string): Promise<boolean> {
    const key = `${full.split("/")[0]!.toLowerCase()}\n${caps}`;
    const known = versions.get(key);
    if (known !== undefined) return known;
    const reply = await deps.request(xml("iq", { type: "get", from: config.domain, to: full },
      xml("query", { xmlns: NS_INFO, node: caps })), DISCO_TIMEOUT_MS).catch(() => null);
    const yes = Boolean(reply?.getChild("query", NS_INFO)?.getChildren("feature").some((f) => f.attrs.var === NS_ROSTERX));
    if (versions.size >= VERSIONS) versions.delete(versions.keys().next().value!);
    versions.set(key, yes);
    return yes;
  }

  return {
    /** A presence to the gateway's own domain from a user (available or not). */
    see(stanza: Element): void {
      const full = String(stanza.attrs.from ?? "");
      const slash = full.indexOf("/");
      if (slash < 0 || String(stanza.attrs.to ?? "").toLowerCase() !== config.domain.toLowerCase()) return;
      const bare = full.slice(0, slash).toLowerCase();
      const type = stanza.attrs.type as string | undefined;
      if (type === "unavailable") {
        online.get(bare)?.delete(full);
        if (online.get(bare)?.size === 0) online.delete(bare);
        return;
      }
      if (type !== undefined) return;
      const c = stanza.getChild("c", NS_CAPS);
      const caps = c?.attrs.node && c.attrs.ver ? `${String(c.attrs.node)}#${String(c.attrs.ver)}` : null;
      let clients = online.get(bare);
      if (!clients) {
        if (online.size >= USERS) online.delete(online.keys().next().value!);
        clients = new Map();
        online.set(bare, clients);
      }
      clients.delete(full);
      if (clients.size >= PER_USER) clients.delete(clients.keys().next().value!);
      clients.set(full, caps);
    },
    /**
     * XEP-0144 §3 "add" from the gateway to each online client of the user that announces it (§6: a
     * client asks its user before it changes the roster). Resolves with how many were sent.
     */
    async suggest(user: BareJid, contact: string, name: string, group: string): Promise<number> {
      let sent = 0;
      for (const [full, caps] of online.get(user.toLowerCase()) ?? []) {
        if (!caps || !(await supports(full, caps))) continue;
        await deps.send(xml("message", { from: config.domain, to: full },
          xml("x", { xmlns: NS_ROSTERX }, xml("item", { action: "add", jid: contact, name: sanitizeLine(name) },
            xml("group", {}, sanitizeLine(group))))));
        sent++;
      }
      return sent;
    },
  };
}
