// Presence badges ("Omnipresence"; docs/design.md §Presence badges): opt-in per user, the gateway's domain
// subscribes to the user's presence, and the summary of their resources is kept for GET /presence/<id>.
import { summarize, type PresenceSummary, type ResourcePresence } from "../core/presence-status.ts";
import { badgeSnippet } from "../core/badge-render.ts";
import type { BareJid } from "../core/types.ts";
import type { BadgeStore } from "../store/badges.ts";
import type { ChatCommand } from "./chat-commands.ts";
import type { CommandOutcome, CommandSpec } from "../xmpp/commands.ts";
import { isTrue } from "../xmpp/forms.ts";


export interface BadgesConfig {
  /** PUBLIC_URL: badges are given out only where the gateway's pages are reachable */
  publicUrl: string | null;
  /** resources remembered per user; more are ignored until one leaves */
  resourcesPerUser?: number;
}

export interface BadgesDeps {
  store: BadgeStore;
  /** badges are for users of the gateway: accounts that own a mailbox */
  hasMailbox(user: BareJid): Promise<boolean>;
  /** whether the user already lets the gateway's domain see their presence (RFC 6121 §3) */
  seesPresence(user: BareJid): Promise<boolean>;
  forgetPresence(user: BareJid): Promise<void>;
  /** presence stanzas from the gateway's domain to the user's bare JID */
  sendPresence(user: BareJid, type: "subscribe" | "unsubscribe" | "probe"): Promise<void>;
  newId(): string;
  onError(err: Error): void;
}

export function createBadges(config: BadgesConfig, deps: BadgesDeps) {
  const maxResources = config.resourcesPerUser ?? 16;
  /** Users with a badge, and whether it shows their status message: only their presence is looked at,
   * and a status message is kept only where it is shown. */
  const watched = new Map<string, boolean>();
  const resources = new Map<string, Map<string, ResourcePresence>>();
  const written = new Map<string, string>();
  const chains = new Map<string, Promise<void>>();
  const urlOf = (id: string) => `${config.publicUrl!.replace(/\/$/, "")}/presence/${id}`;

  /** One user's writes in the order their presences came (RFC 6120 §10.1), only when the summary changed. */
  function persist(user: string, full: PresenceSummary): void {
    const summary = { status: full.status, message: watched.get(user) ? full.message : null };
    const key = `${summary.status}\n${summary.message ?? ""}`;
    if (written.get(user) === key) return;
    written.set(user, key);
    const next = (chains.get(user) ?? Promise.resolve())
      .then(() => watched.has(user) ? deps.store.setStatus(user, summary.status, summary.message) : undefined)
      .catch(deps.onError);
    chains.set(user, next);
    void next.finally(() => { if (chains.get(user) === next) chains.delete(user); });
  }

  async function describe(user: BareJid): Promise<string> {
    const badge = await deps.store.byUser(user);
    if (!badge) return "You have no presence badge. Send \"badge on\" to get one: a small image for web pages that shows whether you are online.";
    const url = urlOf(badge.id);
    const sees = await deps.seesPresence(user);
    return [
      `Your presence badge: ${url}.svg (also ${url}.json, ${url}.txt and ${url}.html).`,
      `For a web page: ${badgeSnippet(url, badge, "en")}`,
      badge.showMessage ? "Your status message is shown (\"badge message off\" to hide it)." : "Your status message is not shown (\"badge message on\" to show it).",
      sees ? `It shows: ${badge.status}.` : "It shows you offline until you accept the gateway's request to see your presence.",
      "\"badge off\" removes it at once.",
    ].join("\n");
  }

  async function enable(user: BareJid, showMessage: boolean): Promise<string> {
    if (!config.publicUrl) return "Presence badges need the gateway's web address (PUBLIC_URL), which this server has not set.";
    if (!(await deps.hasMailbox(user))) return "Presence badges are for accounts with a mailbox on this gateway.";
    const existing = await deps.store.byUser(user);
    if (existing) {
      if (existing.showMessage !== showMessage) await setShowMessage(user, showMessage);
      return describe(user);
    }
    await deps.store.create(user, deps.newId(), showMessage);
    watched.set(user, showMessage);
    written.delete(user);
    // RFC 6121 §3.1: ask for the user's presence; when already granted, §4.3 a probe brings it now.
    await deps.sendPresence(user, (await deps.seesPresence(user)) ? "probe" : "subscribe");
    return describe(user);
  }

  async function setShowMessage(user: BareJid, showMessage: boolean): Promise<void> {
    await deps.store.setShowMessage(user, showMessage);
    if (!watched.has(user)) return;
    watched.set(user, showMessage);
    persist(user, summarize(resources.get(user)?.values() ?? []));
  }

  async function disable(user: BareJid): Promise<string> {
    watched.delete(user);
    resources.delete(user);
    written.delete(user);
    const removed = await deps.store.remove(user);
    if (!removed) return "You have no presence badge.";
    // RFC 6121 §3.3: we no longer want the user's presence.
    await deps.sendPresence(user, "unsubscribe");
    await deps.forgetPresence(user);
    return "Your presence badge is gone: its address answers 404 from now on, and the gateway no longer sees your presence.";
  }

  const spec: CommandSpec = {
    node: "badge", name: "Presence badge", admin: false,
    async form(jid) {
      const badge = await deps.store.byUser(jid);
      return {
        title: "Presence badge",
        instructions: "A small image for web pages that shows whether you are online. Its address is random; turning it off removes it at once.",
        fields: [
          { var: "enabled", type: "boolean", label: "Show my presence on a badge", value: badge ? "1" : "0" },
          { var: "show_message", type: "boolean", label: "Include my status message", value: badge?.showMessage ? "1" : "0" },
        ],
      };
    },
    async run(jid, values): Promise<CommandOutcome> {
      const showMessage = isTrue(values.get("show_message"));
      const note = isTrue(values.get("enabled")) ? await enable(jid, showMessage) : await disable(jid);
      return { note };
    },
  };

  const chat: ChatCommand = {
    word: "badge", usage: "badge [on|off|message on|message off]",
    help: "a presence badge for web pages: shows whether you are online",
    async run(user, args) {
      const words = args.trim().toLowerCase().split(/\s+/).filter(Boolean);
      const badge = await deps.store.byUser(user);
      if (words.length === 0) return describe(user);
      if (words[0] === "on") return enable(user, badge?.showMessage ?? false);
      if (words[0] === "off") return disable(user);
      if (words[0] === "message" && (words[1] === "on" || words[1] === "off")) {
        if (!badge) return "You have no presence badge; send \"badge on\" first.";
        await setShowMessage(user, words[1] === "on");
        return describe(user);
      }
      return `Usage: ${this.usage}`;
    },
  };

  return {
    command: spec,
    chatCommands: [chat],
    /** On every link online: the users with a badge, probed for their current presence (RFC 6121 §4.3). */
    async resync(): Promise<void> {
      resources.clear();
      written.clear();
      const users = await deps.store.users();
      watched.clear();
      for (const u of users) watched.set(u.userJid, u.showMessage);
      for (const u of users) await deps.sendPresence(u.userJid as BareJid, "probe");
    },
    /** A presence from a user to the gateway's domain (RFC 6121 §4.4); null: unavailable. */
    onPresence(from: string, presence: ResourcePresence | null): void {
      const slash = from.indexOf("/");
      const user = (slash < 0 ? from : from.slice(0, slash)).toLowerCase();
      if (!watched.has(user)) return;
      const resource = slash < 0 ? "" : from.slice(slash + 1);
      let mine = resources.get(user);
      if (presence === null) {
        // An unavailable presence from the bare JID ends them all (§4.5.3).
        if (resource === "") mine?.clear(); else mine?.delete(resource);
      } else {
        if (!mine) resources.set(user, mine = new Map());
        if (mine.has(resource) || mine.size < maxResources) mine.set(resource, presence);
      }
      persist(user, summarize(mine?.values() ?? []));
    },
  };
}

export type Badges = ReturnType<typeof createBadges>;
