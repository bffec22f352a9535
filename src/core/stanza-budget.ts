// What a party may send to the gateway and its contacts (docs/design.md §Budgets): stanzas per sending
// bare JID, subscription stanzas per bare JID, and stanzas per remote domain (the XMPP server that hosts
// us is not one: its users are counted one by one). Pure: the clock is injected.
import { createRateLimiter } from "./rate.ts";

export interface StanzaBudgetConfig {
  /** iq, message and presence stanzas one bare JID may send a minute (also the burst); 0: no limit */
  senderPerMinute: number;
  /** subscribe, subscribed, unsubscribe, unsubscribed one bare JID may send a minute (also the burst) */
  subscriptionsPerMinute: number;
  /** stanzas all JIDs of one remote domain may send a minute (also the burst) */
  domainPerMinute: number;
  /** domains not counted as a whole: the XMPP server's own */
  localDomains: string[];
}

export type StanzaKind = "iq" | "message" | "presence" | "subscription";
export type Spent = "sender" | "subscriptions" | "domain";

export interface BudgetKeys { sender: string; domain: string | null }

/** The bare JID and, for a remote sender, its domain; null for an address that is not a JID. */
export function budgetKeys(from: string | undefined, localDomains: readonly string[]): BudgetKeys | null {
  const bare = String(from ?? "").split("/")[0]!.toLowerCase();
  const at = bare.lastIndexOf("@");
  const domain = at >= 0 ? bare.slice(at + 1) : bare;
  if (!domain) return null;
  const local = localDomains.some((d) => d.toLowerCase() === domain);
  return { sender: bare, domain: local ? null : domain };
}

export interface StanzaBudget {
  /** Counts the stanza; null when it may be handled, else which budget is spent. */
  admit(kind: StanzaKind, from: string | undefined): Spent | null;
  /** The words of a refusal, for a stanza error's `<text>`. */
  text(spent: Spent | "queue" | "busy", from: string | undefined): string;
}

export function createStanzaBudget(config: StanzaBudgetConfig, deps: { now(): number }): StanzaBudget {
  const senders = createRateLimiter({ perMinute: config.senderPerMinute }, deps);
  const subscriptions = createRateLimiter({ perMinute: config.subscriptionsPerMinute }, deps);
  const domains = createRateLimiter({ perMinute: config.domainPerMinute }, deps);
  return {
    admit(kind, from) {
      const keys = budgetKeys(from, config.localDomains);
      if (!keys) return "sender";
      if (kind === "subscription" && !subscriptions.take(keys.sender)) return "subscriptions";
      if (!senders.take(keys.sender)) return "sender";
      if (keys.domain !== null && !domains.take(keys.domain)) return "domain";
      return null;
    },
    text(spent, from) {
      const domain = budgetKeys(from, config.localDomains)?.domain ?? "your server";
      switch (spent) {
        case "sender":
          return `You sent the e-mail gateway more than ${config.senderPerMinute} stanzas in a minute; this one was not handled. Wait a minute and try again.`;
        case "subscriptions":
          return `You sent the e-mail gateway more than ${config.subscriptionsPerMinute} subscription requests or answers in a minute; this one was not handled.`;
        case "domain":
          return `The e-mail gateway received more than ${config.domainPerMinute} stanzas from ${domain} in a minute; this one was not handled. Try again later.`;
        case "queue":
          return "The e-mail gateway is still handling your earlier stanzas; this one was not handled. Try again in a moment.";
        case "busy":
          return "The e-mail gateway is busy; this stanza was not handled. Try again in a moment.";
      }
    },
  };
}
