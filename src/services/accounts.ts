// The gateway's own services for XMPP users and admins: registration, settings, status,
// "new mail", mailbox and queue administration. Plain functions over the stores; the XMPP side renders them.
import { addressToJid, domainOf, parseBareJid, parseMailAddress } from "../core/addresses.ts";
import { displayName, MAX_DISPLAY_NAME } from "../core/display-name.ts";
import type { IncomingChat } from "../core/outbound.ts";
import type { BareJid, MailAddress } from "../core/types.ts";
import type { AccountStore } from "../store/accounts.ts";
import type { DeliveryStore } from "../store/deliveries.ts";
import type { MailboxStore } from "../store/mailboxes.ts";
import type { SubscriptionStore } from "../store/subscriptions.ts";
import type { CommandOutcome, CommandSpec } from "../xmpp/commands.ts";
import { isTrue } from "../xmpp/forms.ts";
import type { GatewayServices } from "../xmpp/gateway.ts";
import { createRegistration, type RegistrationConfig } from "./registration.ts";

export interface AccountsConfig extends RegistrationConfig { componentDomain: string; adminJids: string[] }

export interface AccountsDeps {
  mailboxes: MailboxStore;
  accounts: AccountStore;
  deliveries: DeliveryStore;
  subscriptions: SubscriptionStore;
  /** chat → mail, as if the user had written to the contact (core/outbound.ts rules apply) */
  acceptChat(chat: IncomingChat): Promise<{ kind: string; text?: string }>;
  /** XEP-0356 message permission: the mail also shown as a message the user sent (docs/design.md §Roster and privileges). */
  sentCopy?(user: BareJid, contact: string, body: string, subject: string | null): Promise<unknown>;
  /** more commands for users (services/spam.ts: on contacts and on the gateway) */
  commands?: CommandSpec[];
  /** lines the status command adds: the mail held as spam (services/spam.ts) */
  heldSummary?(jid: BareJid): Promise<string[]>;
}

const info = (note: string): CommandOutcome => ({ note });
const failed = (note: string): CommandOutcome => ({ note, type: "error" });
const NO_MAILBOX = failed("You have no mailbox on this gateway.");

export function createAccountServices(config: AccountsConfig, deps: AccountsDeps): GatewayServices {
  const admins = new Set(config.adminJids.map((j) => j.toLowerCase()));
  const mailboxOf = async (jid: BareJid) => (await deps.mailboxes.ownedBy(jid))[0];

  const user: CommandSpec[] = [
    {
      node: "settings", name: "Mailbox settings", admin: false,
      async form(jid) {
        const mailbox = await mailboxOf(jid);
        const current = mailbox && await deps.accounts.settings(mailbox.address);
        return {
          title: `Settings for ${mailbox?.address ?? "your mailbox"}`,
          fields: [
            { var: "paused", type: "boolean", label: "Pause delivery (mail waits until you resume)", value: current?.paused ? "1" : "0" },
            { var: "collapse_quotes", type: "boolean", label: "Hide quoted history (one short line instead)", value: current?.collapseQuotes === false ? "0" : "1" },
            { var: "show_headers", type: "boolean", label: "Show the mail's headers above the text", value: current?.showHeaders ? "1" : "0" },
            { var: "display_name", type: "text-single", label: "Your name in the From: of the mail you send (when your client sends no nickname)",
              value: current?.displayName ?? "" },
            { var: "roster_names", type: "boolean", label: "Add the people who write to you to your contacts, with their names", value: current?.rosterNames === false ? "0" : "1" },
            { var: "hold_spam", type: "boolean", label: "Hold mail the spam filter marks (list and release it from My mailbox)", value: current?.holdSpam ? "1" : "0" },
          ],
        };
      },
      async run(jid, values) {
        const mailbox = await mailboxOf(jid);
        if (!mailbox) return NO_MAILBOX;
        // RFC 5322 §3.4 display-name: one line, never one that reads as an address (core/display-name.ts).
        const name = values.has("display_name") ? (values.get("display_name") ?? "").trim() : undefined;
        if (name && (name.length > MAX_DISPLAY_NAME || !displayName(name))) {
          return failed(`A name is one line of at most ${MAX_DISPLAY_NAME} characters that does not look like an address; nothing was saved.`);
        }
        const patch = {
          ...(name === undefined ? {} : { displayName: name ? displayName(name) : null }),
          ...(values.has("paused") ? { paused: isTrue(values.get("paused")) } : {}),
          ...(values.has("show_headers") ? { showHeaders: isTrue(values.get("show_headers")) } : {}),
          ...(values.has("collapse_quotes") ? { collapseQuotes: isTrue(values.get("collapse_quotes")) } : {}),
          ...(values.has("roster_names") ? { rosterNames: isTrue(values.get("roster_names")) } : {}),
          ...(values.has("hold_spam") ? { holdSpam: isTrue(values.get("hold_spam")) } : {}),
        };
        await deps.accounts.setSettings(mailbox.address, patch);
        return info(patch.paused === false ? "Saved. Delivery resumes; waiting mail follows." : "Saved.");
      },
    },
    {
      node: "new-mail", name: "Write a new mail", admin: false,
      async form() {
        return {
          title: "New mail", instructions: "The mail leaves from your mailbox; answers come back as chat messages.",
          fields: [
            { var: "to", type: "text-single", label: "To (e-mail address)", required: true },
            { var: "subject", type: "text-single", label: "Subject" },
            { var: "text", type: "text-multi", label: "Text", required: true },
          ],
        };
      },
      async run(jid, values) {
        const to = parseMailAddress((values.get("to") ?? "").trim());
        if (!to) return failed("That is not an e-mail address; nothing was sent.");
        const contact = addressToJid(to, config.componentDomain);
        const body = values.get("text") ?? "";
        const subject = values.get("subject") || null;
        const verdict = await deps.acceptChat({
          id: null, from: jid, to: contact, body, subject, replyTo: null, fallback: [], encrypted: null,
          receiptRequested: false, nick: null, fresh: true,
        });
        if (verdict.kind === "queued") {
          // Best effort, after the mail is queued: the conversation shows it as the user's (XEP-0356 §message).
          await deps.sentCopy?.(jid, contact, body, subject).catch(() => undefined);
          return info(`Your mail to ${to} is on its way.`);
        }
        if (verdict.kind === "ignored") return failed("The mail has no text; nothing was sent.");
        return failed(verdict.text ?? "The mail was not sent.");
      },
    },
    {
      node: "status", name: "My mailbox", admin: false,
      async run(jid) {
        const owned = await deps.mailboxes.ownedBy(jid);
        if (owned.length === 0) return NO_MAILBOX;
        const s = await deps.accounts.status(jid);
        const lines = [`Address: ${owned.map((m) => m.address).join(", ")}`,
          `Waiting: ${s.waitingIn} to you, ${s.waitingOut} from you.`,
          s.failures.length ? "Recent failures:" : "No recent failures.",
          ...s.failures.map((f) => `${f.when.toISOString().slice(0, 16).replace("T", " ")} ${f.direction === "outbound" ? "to" : "for"} ${f.recipient}: ${f.why}`),
          ...(await deps.heldSummary?.(jid) ?? [])];
        return info(lines.join("\n"));
      },
    },
  ];

  const admin: CommandSpec[] = [
    {
      node: "admin-add-mailbox", name: "Add a mailbox", admin: true,
      async form() {
        return { title: "Add a mailbox", fields: [
          { var: "address", type: "text-single", label: `Address (in ${config.mailDomains.join(", ")})`, required: true },
          { var: "jid", type: "jid-single", label: "XMPP account (bare JID)", required: true },
        ] };
      },
      async run(_jid, values) {
        const address = parseMailAddress((values.get("address") ?? "").trim());
        const owner = parseBareJid((values.get("jid") ?? "").trim());
        if (!address || !config.mailDomains.includes(domainOf(address))) return failed(`Not an address in ${config.mailDomains.join(", ")}.`);
        if (!owner) return failed("Not a bare JID (user@server).");
        return info(`${address} → ${owner}: ${await deps.mailboxes.upsert(address, owner)}.`);
      },
    },
    {
      node: "admin-disable-mailbox", name: "Disable a mailbox", admin: true,
      async form() {
        return { title: "Disable a mailbox", fields: [{ var: "address", type: "text-single", label: "Address", required: true }] };
      },
      async run(_jid, values) {
        const address = (values.get("address") ?? "").trim();
        return (await deps.mailboxes.setEnabled(address, false)) ? info(`${address} is disabled.`) : failed(`No mailbox ${address}.`);
      },
    },
    {
      node: "admin-list-mailboxes", name: "List mailboxes", admin: true,
      async run() {
        const rows = await deps.mailboxes.list();
        return { note: `${rows.length} mailboxes.`, table: { title: "Mailboxes",
          columns: [{ var: "address", label: "Address" }, { var: "jid", label: "JID" }, { var: "enabled", label: "Enabled" }],
          rows: rows.map((m) => ({ address: m.address, jid: m.jid, enabled: m.enabled ? "yes" : "no" })) } };
      },
    },
    {
      node: "admin-failed", name: "Failed deliveries", admin: true,
      async run() {
        const rows = await deps.deliveries.list(["failed"], 50);
        return { note: `${rows.length} failed deliveries (oldest first, at most 50).`, table: { title: "Failed deliveries",
          columns: [{ var: "id", label: "Id" }, { var: "direction", label: "Direction" }, { var: "recipient", label: "Recipient" },
            { var: "error", label: "Last error" }],
          rows: rows.map((d) => ({ id: String(d.id), direction: d.direction, recipient: d.recipient, error: d.lastError ?? "" })) } };
      },
    },
    {
      node: "admin-retry", name: "Retry a delivery", admin: true,
      async form() {
        return { title: "Retry a delivery", fields: [{ var: "id", type: "text-single", label: "Delivery id", required: true }] };
      },
      async run(_jid, values) {
        const id = Number(values.get("id"));
        if (!Number.isSafeInteger(id) || id <= 0) return failed("A delivery id is a positive number.");
        return (await deps.deliveries.retry(id)) ? info(`Delivery ${id} will be tried again now.`) : failed(`No delivery ${id}.`);
      },
    },
  ];

  return {
    contactName: (jid, address: MailAddress) => deps.accounts.contactName(jid, address),
    getSubscription: (u, c) => deps.subscriptions.get(u, c),
    setSubscription: (u, c, patch) => deps.subscriptions.set(u, c, patch),
    askOnce: (u, c) => deps.subscriptions.askOnce(u, c),
    isAdmin: (jid) => admins.has(jid.toLowerCase()),
    commands: [...user, ...(deps.commands ?? []), ...admin],
    registration: createRegistration(config, deps),
  };
}
