// The mailbox's services as chat commands (docs/design.md §Chat commands): `mail`, `settings`, `set`,
// `status` and the administrators' commands run the very XEP-0050 commands of services/accounts.ts with
// the values the words give. One implementation, two front ends.
import { addressToJid, readTypedAddress, xmppUri } from "../core/addresses.ts";
import type { BareJid, FormField, MailAddress } from "../core/types.ts";
import type { CommandOutcome, CommandSpec } from "../xmpp/commands.ts";
import type { GatewayServices } from "../xmpp/gateway.ts";
import type { ChatCommand } from "./chat-commands.ts";

export type AddContactResult = "added" | "exists" | "removed" | "off" | "unavailable";

export interface MailboxChatDeps {
  /** the XEP-0050 commands (services/accounts.ts): the chat commands run them */
  specs: CommandSpec[];
  contactName(user: BareJid, address: MailAddress): Promise<string | null>;
  /** the address the user's mail leaves from, when they have a mailbox */
  mailboxOf(user: BareJid): Promise<string | null>;
  /** XEP-0356 roster item for the contact; absent: no privilege granted */
  addContact?(user: BareJid, address: MailAddress, name: string | null): Promise<AddContactResult>;
}

/** Short words for the settings form's fields; a field without one goes by its var. */
const SETTING_WORDS: Record<string, string> = { paused: "pause", collapse_quotes: "quotes", show_headers: "headers", display_name: "name", roster_names: "roster", hold_spam: "hold" };
const ON = new Set(["on", "yes", "true", "1"]);
const OFF = new Set(["off", "no", "false", "0"]);

/** Ad-hoc commands offered as words: the form's fields, in order, are the words after the command. */
const FROM_SPECS: { node: string; word: string; usage: string; help: string }[] = [
  { node: "status", word: "status", usage: "status", help: "your address, mail waiting, recent failures" },
  { node: "admin-list-mailboxes", word: "mailboxes", usage: "mailboxes", help: "every mailbox and its account" },
  { node: "admin-add-mailbox", word: "add-mailbox", usage: "add-mailbox ADDRESS JID", help: "give an account a mailbox" },
  { node: "admin-disable-mailbox", word: "disable-mailbox", usage: "disable-mailbox ADDRESS", help: "refuse mail for a mailbox" },
  { node: "admin-failed", word: "failed", usage: "failed", help: "failed deliveries (oldest first, at most 50)" },
  { node: "admin-retry", word: "retry", usage: "retry ID", help: "try a failed delivery again now" },
];

const ROSTER: Record<AddContactResult, (name: string | null) => string> = {
  added: (name) => `Added to your contacts${name ? ` as "${name}"` : ""}.`,
  exists: () => "It is already in your contacts.",
  removed: () => "You removed it from your contacts once, so it was not added again; add it from the link to have it back.",
  off: () => "Your settings keep the gateway from adding contacts: add it from the link.",
  unavailable: () => "Your server does not let the gateway add contacts: add it yourself from the link.",
};

/** A command's outcome as text: its note, then its table one row a line. */
function outcomeText(outcome: CommandOutcome): string {
  const rows = outcome.table?.rows.map((row) => outcome.table!.columns.map((c) => row[c.var] ?? "").join("  ")) ?? [];
  return [outcome.note, ...rows].join("\n");
}

export function createMailboxChatCommands(config: { componentDomain: string }, deps: MailboxChatDeps): ChatCommand[] {
  const spec = (node: string) => deps.specs.find((s) => s.node === node);
  const settingsSpec = spec("settings");
  const wordOf = (f: FormField) => SETTING_WORDS[f.var] ?? f.var.replace(/_/g, "-");
  const settable = async (user: BareJid) => (await settingsSpec!.form!(user)).fields.filter((f) => f.type !== "fixed" && f.type !== "hidden");
  const shown = (f: FormField) => (f.type === "boolean" ? (f.value === "1" || f.value === "true" ? "on" : "off") : f.value || "(none)");

  const mail: ChatCommand = {
    word: "mail", usage: "mail ADDRESS", help: "the contact to write to ADDRESS, as a link",
    async run(user, args) {
      if (!args) return "Usage: mail ADDRESS, e.g. mail alice@example.com";
      const address = readTypedAddress(args, config.componentDomain);
      if (!address) return `"${[...args].slice(0, 80).join("")}" is not an e-mail address (expected name@example.org).`;
      const from = await deps.mailboxOf(user);
      const lines = [`${address}: ${xmppUri(addressToJid(address, config.componentDomain))}`,
        from ? `Open it and write: each message leaves as a mail from ${from}.` : "Open it and write to them."];
      if (deps.addContact) {
        const name = await deps.contactName(user, address);
        lines.push(await deps.addContact(user, address, name).then((r) => ROSTER[r](name),
          () => "It could not be added to your contacts just now: add it from the link."));
      }
      return lines.join("\n");
    },
  };

  const settings: ChatCommand = {
    word: "settings", usage: "settings", help: "your mailbox settings",
    async run(user) {
      const form = await settingsSpec!.form!(user);
      const fields = await settable(user);
      return [`${form.title}:`, ...fields.map((f) => `  ${wordOf(f)}: ${shown(f)} — ${f.label ?? f.var}`),
        `Change one with "set NAME on" or "set NAME off", e.g. "set ${fields[0] ? wordOf(fields[0]) : "pause"} on".`].join("\n");
    },
  };

  const set: ChatCommand = {
    word: "set", usage: "set NAME on|off (set name Your Name)", help: "change a setting, e.g. set pause on",
    async run(user, args) {
      const fields = await settable(user);
      const [name = "", ...rest] = args.split(/\s+/u);
      const field = fields.find((f) => wordOf(f) === name.toLowerCase() || f.var === name.toLowerCase());
      const usage = `Usage: set NAME on|off, NAME one of ${fields.filter((f) => f.type === "boolean").map(wordOf).join(", ")}; `
        + `or ${fields.filter((f) => f.type !== "boolean").map((f) => `set ${wordOf(f)} TEXT`).join(", ") || "nothing else"}.`;
      if (!field) return usage;
      const typed = rest.join(" ").trim();
      let value = typed;
      if (field.type === "boolean") {
        if (!ON.has(typed.toLowerCase()) && !OFF.has(typed.toLowerCase())) return usage;
        value = ON.has(typed.toLowerCase()) ? "1" : "0";
      } else if (field.options && !field.options.some((o) => o.value === typed)) {
        return `${wordOf(field)} is one of ${field.options.map((o) => o.value).join(", ")}.`;
      }
      const outcome = await settingsSpec!.run(user, new Map([[field.var, value]]));
      if (outcome.type === "error") return outcomeText(outcome);
      return `${wordOf(field)}: ${shown({ ...field, value })}. ${outcomeText(outcome)}`;
    },
  };

  const fromSpecs = FROM_SPECS.flatMap(({ node, ...words }): ChatCommand[] => {
    const s = spec(node);
    if (!s) return [];
    return [{ ...words, ...(s.admin ? { admin: true } : {}), async run(user, args) {
      const fields = s.form ? (await s.form(user)).fields.filter((f) => f.type !== "fixed" && f.type !== "hidden") : [];
      const parts = args ? args.split(/\s+/u) : [];
      // The last field takes the rest of the line.
      const values = new Map(fields.map((f, i) => [f.var, i === fields.length - 1 ? parts.slice(i).join(" ") : parts[i] ?? ""]));
      if (fields.some((f) => f.required && !values.get(f.var))) return `Usage: ${words.usage}`;
      return outcomeText(await s.run(user, values));
    } }];
  });

  return [mail, ...(settingsSpec?.form ? [settings, set] : []), ...fromSpecs];
}

/** The one answer of an account without a mailbox: how it may get one (docs/design.md §Chat commands). */
export async function noMailboxAnswer(jid: BareJid, componentDomain: string, registration: GatewayServices["registration"]): Promise<string> {
  const none = "You have no mailbox on this gateway.";
  if (!registration) return `${none} Ask the administrator of your XMPP server for one.`;
  const info = await registration.info(jid);
  if (!info.allowed) return `${none} ${info.why ?? ""} Ask the administrator of your XMPP server if you need one.`.replace(/\s+/g, " ");
  const what = info.suggested ? `the mailbox ${info.suggested}` : "a mailbox";
  return `${none} Register with ${componentDomain} to get ${what} (your client's "Register" on the gateway, in its service discovery).`;
}
