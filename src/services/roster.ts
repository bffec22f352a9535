// Correspondents in the user's roster (docs/design.md §Roster and privileges). With XEP-0356 roster
// permission: an item named after the sender, in ROSTER_GROUP, kept up to date but never against the
// user's word (core/roster.ts). Without it: once per pair, a subscription request carrying the name
// (RFC 6121 §3.1.1, XEP-0172 §4.2), and a XEP-0144 suggestion to the clients that announce it. After delivery, best effort: a bounded queue, one at a time, so it
// never holds up the delivery queue; a mail that finds it full is simply not looked at.
import { addressToJid, jidToAddress } from "../core/addresses.ts";
import { decide, mustLook, rosterName, settled, type AddResult } from "../core/roster.ts";
import type { BareJid, MailAddress } from "../core/types.ts";
import type { Logger } from "../log.ts";
import type { RosterStore } from "../store/roster.ts";
import type { SubscriptionStore } from "../store/subscriptions.ts";

const SEEN_MS = 10 * 60_000;
const SEEN_MAX = 10_000;

export interface RosterConfig { componentDomain: string; group: string; queueMax: number;
  /** how long the first mail of a new correspondent waits for its roster item (first()); default 1000 ms */
  firstWaitMs?: number }

/** What the XMPP link offers (xmpp/component.ts XmppLink), within the grants of its stream. */
export interface RosterLink {
  canRoster(user: BareJid, need: "get" | "set"): boolean;
  rosterItem(user: BareJid, contact: string): Promise<{ name: string | null; groups: string[] } | null>;
  rosterSet(user: BareJid, contact: string, name: string, groups: string[]): Promise<void>;
  askSubscription(from: string, to: BareJid, nick: string | null): Promise<void>;
  /** the contact's available presence to the user, once it is in their roster subscribed both ways */
  announceContact(contact: string, to: BareJid): Promise<void>;
  suggestContact(user: BareJid, contact: string, name: string, group: string): Promise<number>;
}

export interface RosterDeps { store: RosterStore; subscriptions: SubscriptionStore; link: () => RosterLink; log: Logger }

export function createRosterService(config: RosterConfig, deps: RosterDeps) {
  const pending = new Map<string, () => Promise<unknown>>();
  let running: Promise<void> | null = null;
  const firstWaitMs = config.firstWaitMs ?? 1000;
  /** Pairs looked at lately, with the name they were looked at with: a mail that brings nothing new costs
   * no query at all (at most SEEN_MAX pairs, each for SEEN_MS). */
  const seen = new Map<string, { name: string | null; at: number }>();
  const pairKey = (user: string, address: string) => `${user.toLowerCase()}\n${address.toLowerCase()}`;
  const fresh = (key: string, name: string | null) => {
    const last = seen.get(key);
    return last !== undefined && last.name === name && Date.now() - last.at < SEEN_MS;
  };
  const remember = (key: string, name: string | null) => {
    seen.delete(key);
    seen.set(key, { name, at: Date.now() });
    if (seen.size > SEEN_MAX) seen.delete(seen.keys().next().value!);
  };
  /** after a roster write that did not answer in time, first() does not wait for a minute */
  let slowUntil = 0;

  async function privileged(user: BareJid, address: MailAddress, name: string | null, force: boolean): Promise<AddResult> {
    const link = deps.link();
    const jid = addressToJid(address, config.componentDomain);
    const wanted = rosterName(name, address);
    const record = await deps.store.get(user, address);
    if (!mustLook(record, wanted, force)) return settled(record!);
    const item = await link.rosterItem(user, jid);
    const decision = decide(record, item, wanted, config.group);
    if (decision.set) {
      await link.rosterSet(user, jid, decision.set.name, decision.set.groups);
      // Both ways, as a subscription the gateway approves (gateway.ts onPresence): probes are answered,
      // and the contact shows available at once rather than at the user's next login (RFC 6121 §4.2).
      await deps.subscriptions.set(user, jid, { fromUser: true, toUser: true });
      if (!record) await link.announceContact(jid, user).catch(() => undefined);
    }
    if (!record || record.state !== decision.record.state || record.name !== decision.record.name) {
      await deps.store.put(user, address, decision.record);
    }
    return decision.result;
  }

  /** XEP-0356 roster permission, "both": the roster is read before anything is written. */
  const granted = (user: BareJid) => deps.link().canRoster(user, "get") && deps.link().canRoster(user, "set");

  async function onMail(user: BareJid, address: MailAddress, name: string | null): Promise<void> {
    if (!(await deps.store.enabledFor(user))) return;
    if (granted(user)) {
      try {
        await privileged(user, address, name, false);
        return;
      } catch (err) {
        // Granted but refused (ejabberd 23.01 answers every privileged roster set with an error): the
        // link stops offering it, and this mail falls back to the request below.
        if (granted(user)) throw err;
      }
    }
    const jid = addressToJid(address, config.componentDomain);
    const state = await deps.subscriptions.get(user, jid);
    if (state.fromUser || state.toUser) return;
    // The row first (askOnce marks it): remembered only for a user with a mailbox.
    if (!(await deps.subscriptions.set(user, jid, {})) || !(await deps.subscriptions.askOnce(user, jid))) return;
    await deps.link().askSubscription(jid, user, rosterName(name, address));
    // XEP-0144 too, to the clients that announce it: the name and the group, for the user to accept.
    await deps.link().suggestContact(user, jid, rosterName(name, address), config.group);
  }

  function drain(): void {
    if (running) return;
    running = (async () => {
      for (let next = pending.entries().next(); !next.done; next = pending.entries().next()) {
        const [key, job] = next.value;
        pending.delete(key);
        await job().catch((err: Error) => deps.log.warn({ err: err.message }, "roster item not updated"));
      }
    })().finally(() => {
      running = null;
      if (pending.size > 0) drain();
    });
  }

  return {
    /** The shared interface (docs/design.md §Roster and privileges): put a contact in the user's roster now. */
    async addContact(user: BareJid, address: MailAddress, name: string | null): Promise<AddResult> {
      if (!(await deps.store.enabledFor(user))) return "off";
      if (!granted(user)) return "unavailable";
      return privileged(user, address, name, true);
    },
    /**
     * Before the first mail of a correspondent the user has never had from us: its roster item first, so
     * clients show the name with the very first message (they name a conversation when it starts). Waits
     * at most `firstWaitMs` once per pair, never after a write that was slow (a minute); whatever it does not
     * finish, the pass after delivery does (noteDelivered).
     */
    async first(user: BareJid, contactJid: string, nick: string | null): Promise<void> {
      const address = jidToAddress(contactJid.split("/")[0]!, config.componentDomain);
      if (!address || Date.now() < slowUntil || !granted(user) || seen.has(pairKey(user, address))) return;
      if (await deps.store.get(user, address) || !(await deps.store.enabledFor(user))) return;
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<"late">((resolve) => { timer = setTimeout(() => resolve("late"), firstWaitMs); });
      const done = await Promise.race([privileged(user, address, nick, false).catch(() => "failed" as const), late]);
      clearTimeout(timer);
      if (done === "late") slowUntil = Date.now() + 60_000;
      else if (done !== "failed") remember(pairKey(user, address), nick);
    },
    /** A mail from `contactJid` was delivered to `user`: queued, deduplicated per pair; false when it was not. */
    noteDelivered(user: BareJid, contactJid: string, nick: string | null): boolean {
      const address = jidToAddress(contactJid.split("/")[0]!, config.componentDomain);
      if (!address) return false;
      const key = pairKey(user, address);
      if (fresh(key, nick)) return true;
      if (!pending.has(key) && pending.size >= config.queueMax) return false;
      // The latest mail of a pair wins: its name is the one to show.
      pending.delete(key);
      pending.set(key, async () => {
        await onMail(user, address, nick);
        remember(key, nick);
      });
      drain();
      return true;
    },
    /** Resolves once nothing waits. */
    async idle(): Promise<void> {
      while (running) await running;
    },
    /** Shutdown: what waits is dropped (best effort), the pair in course finishes. */
    async stop(): Promise<void> {
      pending.clear();
      await running;
    },
  };
}

export type RosterService = ReturnType<typeof createRosterService>;
