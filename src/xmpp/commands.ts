// XEP-0050 ad-hoc commands: the protocol (sessions, stages, actions). What each command does comes in
// as plain specs (services/accounts.ts); forms are plain data rendered by forms.ts.
import { randomBytes } from "node:crypto";
import xmppComponent, { type Element } from "@xmpp/component";
import type { BareJid, Form, Table } from "../core/types.ts";
import { sanitizeText } from "../core/sanitize.ts";
import { formElement, readForm, tableElement } from "./forms.ts";
import { NS } from "./stanzas.ts";

const { xml } = xmppComponent;
export const NS_COMMANDS = "http://jabber.org/protocol/commands";

export interface CommandOutcome { note: string; type?: "info" | "warn" | "error"; form?: Form; table?: Table }

export interface CommandSpec {
  node: string;
  name: string;
  /** only for ADMIN_JIDS */
  admin: boolean;
  /** the form of the first stage; without one the command runs at once */
  form?(jid: BareJid): Promise<Form>;
  run(jid: BareJid, values: Map<string, string>): Promise<CommandOutcome>;
}

interface Session { node: string; jid: string; expires: number }

const SESSION_MS = 10 * 60_000;
const MAX_SESSIONS = 10_000;

export function stanzaError(type: string, condition: string, text?: string, extra?: Element): Element {
  return xml("error", { type }, xml(condition, { xmlns: NS.stanzas }),
    text ? xml("text", { xmlns: NS.stanzas, "xml:lang": "en" }, sanitizeText(text)) : null, extra ?? null);
}

export function createCommands(config: { domain: string }, deps: { commands: CommandSpec[]; isAdmin(jid: BareJid): boolean }) {
  const sessions = new Map<string, Session>();
  const visible = (jid: BareJid) => deps.commands.filter((c) => !c.admin || deps.isAdmin(jid));

  const completed = (node: string, sessionid: string, outcome: CommandOutcome) =>
    xml("command", { xmlns: NS_COMMANDS, node, sessionid, status: "completed" },
      xml("note", { type: outcome.type ?? "info" }, sanitizeText(outcome.note)),
      outcome.form ? formElement(outcome.form, "result") : null,
      outcome.table ? tableElement(outcome.table) : null);

  return {
    /** XEP-0050 §2.2: the commands this requester may run, as disco#items of the commands node. */
    items(jid: BareJid): Element {
      return xml("query", { xmlns: NS.discoItems, node: NS_COMMANDS },
        ...visible(jid).map((c) => xml("item", { jid: config.domain, node: c.node, name: c.name })));
    },

    /** XEP-0050 §2.3: disco#info on one command node; null when it is not one this requester may run. */
    info(jid: BareJid, node: string): Element | null {
      const spec = visible(jid).find((c) => c.node === node);
      if (!spec) return null;
      return xml("query", { xmlns: NS.discoInfo, node },
        xml("identity", { category: "automation", type: "command-node", name: spec.name }),
        xml("feature", { var: NS_COMMANDS }), xml("feature", { var: "jabber:x:data" }));
    },

    async execute(jid: BareJid, command: Element): Promise<Element> {
      const node = String(command.attrs.node ?? "");
      const action = String(command.attrs.action ?? "execute");
      const spec = deps.commands.find((c) => c.node === node);
      if (!spec) return stanzaError("cancel", "item-not-found", "No such command.");
      if (spec.admin && !deps.isAdmin(jid)) return stanzaError("auth", "forbidden", "This command is for the gateway's administrators.");
      const now = Date.now();
      for (const [id, s] of sessions) if (s.expires < now) sessions.delete(id);

      const given = command.attrs.sessionid ? String(command.attrs.sessionid) : null;
      if (given) {
        const session = sessions.get(given);
        // XEP-0050 §4.6: an unknown, expired or foreign session is bad-sessionid.
        if (!session || session.node !== node || session.jid !== jid) {
          return stanzaError("modify", "bad-request", "This command session has expired; start the command again.",
            xml("bad-sessionid", { xmlns: NS_COMMANDS }));
        }
        sessions.delete(given);
        if (action === "cancel") return xml("command", { xmlns: NS_COMMANDS, node, sessionid: given, status: "canceled" });
        if (action === "prev") return stanzaError("modify", "bad-request", "This command has a single stage.", xml("bad-action", { xmlns: NS_COMMANDS }));
        return completed(node, given, await spec.run(jid, readForm(command.getChild("x", "jabber:x:data"))));
      }
      if (action === "cancel") return xml("command", { xmlns: NS_COMMANDS, node, status: "canceled" });
      const sessionid = randomBytes(12).toString("hex");
      if (!spec.form) return completed(node, sessionid, await spec.run(jid, new Map()));
      if (sessions.size >= MAX_SESSIONS) return stanzaError("wait", "resource-constraint", "Too many open command sessions; try again shortly.");
      sessions.set(sessionid, { node, jid, expires: now + SESSION_MS });
      // XEP-0050 §3.4: one stage, so "complete" is the only (and default) action.
      return xml("command", { xmlns: NS_COMMANDS, node, sessionid, status: "executing" },
        xml("actions", { execute: "complete" }, xml("complete")),
        formElement(await spec.form(jid)));
    },
  };
}

export type Commands = ReturnType<typeof createCommands>;
