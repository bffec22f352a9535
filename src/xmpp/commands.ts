// XEP-0050 ad-hoc commands: the protocol (sessions, stages, actions). What each command does comes in
// as plain specs (services/accounts.ts); forms are plain data rendered by forms.ts.
import { randomBytes } from "node:crypto";
import xmppComponent, { type Element } from "@xmpp/component";
import type { BareJid, Form, MailAddress, Table } from "../core/types.ts";
import { sanitizeText } from "../core/sanitize.ts";
import { formElement, readForm, tableElement } from "./forms.ts";
import { NS } from "./stanzas.ts";
import { createCommandSessions } from "./command-sessions.ts";
import { createRateLimiter } from "../core/rate.ts";

const { xml } = xmppComponent;
export const NS_COMMANDS = "http://jabber.org/protocol/commands";

export interface CommandOutcome { note: string; type?: "info" | "warn" | "error"; form?: Form; table?: Table }

export interface CommandSpec {
  node: string;
  name: string;
  /** only for ADMIN_JIDS */
  admin: boolean;
  /** offered on each correspondent's JID (about that address), not on the gateway's; runs at once, no form */
  contact?: boolean;
  /** the form of the first stage; without one the command runs at once */
  form?(jid: BareJid): Promise<Form>;
  /** `contact`: the correspondent's address, for a contact command */
  run(jid: BareJid, values: Map<string, string>, contact?: MailAddress): Promise<CommandOutcome>;
}

/** A correspondent's JID and the address it stands for (docs/design.md §Contract, Addressing). */
export interface CommandContact { jid: string; address: MailAddress }

/** docs/design.md §Budgets: command sessions and command requests; rates of 0 turn a rate off. */
export interface CommandBudget {
  sessionsPerUser: number;
  sessions: number;
  perMinute: number;
  perDomainPerMinute: number;
  /** the servers of the gateway's own users: only other domains share a per-domain rate */
  homeDomains: string[];
}

export const DEFAULT_BUDGET: CommandBudget = { sessionsPerUser: 5, sessions: 10_000, perMinute: 30, perDomainPerMinute: 300, homeDomains: [] };

// One stage a command: long enough to write a mail in the new-mail form; the per-user share, not the
// lifetime, keeps the table small.
const SESSION_MS = 10 * 60_000;

export function stanzaError(type: string, condition: string, text?: string, extra?: Element): Element {
  return xml("error", { type }, xml(condition, { xmlns: NS.stanzas }),
    text ? xml("text", { xmlns: NS.stanzas, "xml:lang": "en" }, sanitizeText(text)) : null, extra ?? null);
}

export function createCommands(config: { domain: string; budget?: CommandBudget },
  deps: { commands: CommandSpec[]; isAdmin(jid: BareJid): boolean; now?(): number }) {
  const budget = config.budget ?? DEFAULT_BUDGET;
  const now = deps.now ?? Date.now;
  const sessions = createCommandSessions({ perUser: budget.sessionsPerUser, overall: budget.sessions, ttlMs: SESSION_MS },
    { now, isAdmin: (jid) => deps.isAdmin(jid as BareJid) });
  const perJid = createRateLimiter({ perMinute: budget.perMinute }, { now });
  const perDomain = createRateLimiter({ perMinute: budget.perDomainPerMinute }, { now });
  const home = new Set(budget.homeDomains.map((d) => d.toLowerCase()));
  // The JID's own rate first: requests it is refused do not spend its domain's.
  const overRate = (jid: BareJid): string | null => {
    if (!perJid.take(jid)) return `Too many commands: at most ${budget.perMinute} a minute from one account; wait a minute and try again.`;
    const domain = jid.slice(jid.indexOf("@") + 1).toLowerCase();
    if (home.has(domain) || deps.isAdmin(jid) || perDomain.take(domain)) return null;
    return `Too many commands from accounts of ${domain}: at most ${budget.perDomainPerMinute} a minute; wait a minute and try again.`;
  };
  // The gateway's JID lists its own commands, a contact's JID the contact commands (XEP-0050 §2.2).
  const visible = (jid: BareJid, contact?: CommandContact) =>
    deps.commands.filter((c) => (!c.admin || deps.isAdmin(jid)) && Boolean(c.contact) === Boolean(contact));

  const completed = (node: string, sessionid: string, outcome: CommandOutcome) =>
    xml("command", { xmlns: NS_COMMANDS, node, sessionid, status: "completed" },
      xml("note", { type: outcome.type ?? "info" }, sanitizeText(outcome.note)),
      outcome.form ? formElement(outcome.form, "result") : null,
      outcome.table ? tableElement(outcome.table) : null);

  return {
    /** Counts one request of `jid`'s against the command rates (docs/design.md §Budgets): words
     * saying which is spent, or null. Chat commands (gateway-chat.ts) count here too. */
    admit: overRate,

    /** XEP-0050 §2.2: the commands this requester may run, as disco#items of the commands node. */
    items(jid: BareJid, contact?: CommandContact): Element {
      return xml("query", { xmlns: NS.discoItems, node: NS_COMMANDS },
        ...visible(jid, contact).map((c) => xml("item", { jid: contact?.jid ?? config.domain, node: c.node, name: c.name })));
    },

    /** XEP-0050 §2.3: disco#info on one command node; null when it is not one this requester may run. */
    info(jid: BareJid, node: string, contact?: CommandContact): Element | null {
      const spec = visible(jid, contact).find((c) => c.node === node);
      if (!spec) return null;
      return xml("query", { xmlns: NS.discoInfo, node },
        xml("identity", { category: "automation", type: "command-node", name: spec.name }),
        xml("feature", { var: NS_COMMANDS }), xml("feature", { var: "jabber:x:data" }));
    },

    async execute(jid: BareJid, command: Element, contact?: CommandContact): Promise<Element> {
      // RFC 6120 §8.3.3.18: past the rate the request is refused before any work, with the limit in words.
      const limited = overRate(jid);
      if (limited) return stanzaError("wait", "resource-constraint", limited);
      const node = String(command.attrs.node ?? "");
      const action = String(command.attrs.action ?? "execute");
      const spec = deps.commands.find((c) => c.node === node && Boolean(c.contact) === Boolean(contact));
      if (!spec) return stanzaError("cancel", "item-not-found", "No such command.");
      if (contact) {
        if (action === "cancel") return xml("command", { xmlns: NS_COMMANDS, node, status: "canceled" });
        return completed(node, randomBytes(12).toString("hex"), await spec.run(jid, new Map(), contact.address));
      }
      if (spec.admin && !deps.isAdmin(jid)) return stanzaError("auth", "forbidden", "This command is for the gateway's administrators.");

      const given = command.attrs.sessionid ? String(command.attrs.sessionid) : null;
      if (given) {
        // XEP-0050 §4.4: an unknown, expired, replaced or foreign session is bad-sessionid.
        if (!sessions.take(given, jid, node)) {
          return stanzaError("modify", "bad-request",
            "This command session has expired or was replaced by one you opened later; start the command again.",
            xml("bad-sessionid", { xmlns: NS_COMMANDS }));
        }
        if (action === "cancel") return xml("command", { xmlns: NS_COMMANDS, node, sessionid: given, status: "canceled" });
        if (action === "prev") return stanzaError("modify", "bad-request", "This command has a single stage.", xml("bad-action", { xmlns: NS_COMMANDS }));
        return completed(node, given, await spec.run(jid, readForm(command.getChild("x", "jabber:x:data"))));
      }
      if (action === "cancel") return xml("command", { xmlns: NS_COMMANDS, node, status: "canceled" });
      if (!spec.form) return completed(node, randomBytes(12).toString("hex"), await spec.run(jid, new Map()));
      const form = await spec.form(jid);
      const sessionid = sessions.open(jid, node).id;
      // XEP-0050 §3.4: one stage, so "complete" is the only (and default) action.
      return xml("command", { xmlns: NS_COMMANDS, node, sessionid, status: "executing" },
        xml("actions", { execute: "complete" }, xml("complete")),
        formElement(form));
    },
  };
}

export type Commands = ReturnType<typeof createCommands>;
