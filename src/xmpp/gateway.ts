// The gateway as clients know one: discovery, XEP-0100 address prompt, XEP-0077 registration (register.ts),
// XEP-0050 commands, chat commands (gateway-chat.ts), vcard-temp names, and RFC 6121 presence
// subscriptions. Decisions come from services.
import xmppComponent, { type Element, type IqContext } from "@xmpp/component";
import { addressToJid, jidToAddress, parseBareJid, readTypedAddress } from "../core/addresses.ts";
import { readPresence, type ResourcePresence } from "../core/presence-status.ts";
import { sanitizeLine } from "../core/sanitize.ts";
import type { BareJid, MailAddress } from "../core/types.ts";
import type { Logger } from "../log.ts";
import { createCommands, NS_COMMANDS, stanzaError, type CommandBudget, type CommandSpec } from "./commands.ts";
import { discoInfo, discoItems, versionInfo } from "./disco.ts";
import { createGatewayChat } from "./gateway-chat.ts";
import { installRegistration } from "./register.ts";
import { availablePresence, NS } from "./stanzas.ts";

const { xml } = xmppComponent;

export interface SubscriptionState { fromUser: boolean; toUser: boolean }

/** What became of a registration request: done (the words say what changed), or refused with words. */
export type RegisterResult = { address: string | null; text: string } | { type: string; condition: string; text: string };

export interface GatewayServices {
  /** the correspondent's name as seen in mail to `requester`'s mailboxes (never others') */
  contactName(requester: BareJid, address: MailAddress): Promise<string | null>;
  getSubscription(user: BareJid, contact: string): Promise<SubscriptionState>;
  /** Remembered only for a user who owns a mailbox (docs/design.md §Budgets); false when not remembered. */
  setSubscription(user: BareJid, contact: string, patch: Partial<SubscriptionState>): Promise<boolean>;
  /** True the first time only, for a remembered pair: we may ask the user for their presence once. */
  askOnce(user: BareJid, contact: string): Promise<boolean>;
  /** XEP-0077 self-service; null when off (SELF_SERVICE_DOMAINS unset) */
  registration: null | {
    /** the mailbox this JID has, or may get; `username` prefills the form with it */
    info(jid: BareJid): Promise<{ allowed: boolean; address: string | null; suggested: string | null; why?: string;
      instructions?: string; username?: string }>;
    register(jid: BareJid, localpart: string | null): Promise<RegisterResult>;
    unregister(jid: BareJid): Promise<RegisterResult>;
  };
  commands: CommandSpec[];
  isAdmin(jid: BareJid): boolean;
  /** A user's available (or, null, unavailable) presence sent to the gateway's domain (RFC 6121 §4.4, §4.5). */
  userPresence?(from: string, presence: ResourcePresence | null): void;
  /** the answer to a line typed to the gateway's JID (services/chat-commands.ts); absent: none taken */
  chatCommand?(user: BareJid, line: string): Promise<string>;
}

type Send = (stanza: Element) => Promise<void>;
interface IqCallee { get(ns: string, name: string, h: (ctx: IqContext) => unknown): void; set(ns: string, name: string, h: (ctx: IqContext) => unknown): void }

/** The resource a contact's presence comes from (docs/design.md §Presence). */
export const CONTACT_RESOURCE = "mail";

const bareOf = (jid: string | undefined): BareJid | null => parseBareJid(String(jid ?? "").split("/")[0] ?? "");

export function installGateway(config: { domain: string; version: string; commands?: CommandBudget }, iq: IqCallee, send: Send,
  services: GatewayServices, log: Logger) {
  const commands = createCommands({ domain: config.domain, ...(config.commands ? { budget: config.commands } : {}) }, services);
  const isDomain = (to: unknown) => String(to ?? "").toLowerCase() === config.domain.toLowerCase();
  const requester = (ctx: IqContext) => bareOf(ctx.stanza.attrs.from);
  /** The correspondent a stanza is addressed to, or undefined for the gateway itself or no valid one. */
  const contactOf = (to: unknown) => {
    const jid = String(to ?? "").split("/")[0] ?? "";
    const address = isDomain(jid) ? null : jidToAddress(jid, config.domain);
    return address ? { jid, address } : undefined;
  };

  iq.get(NS.discoInfo, "query", (ctx) => {
    const node = ctx.element.attrs.node as string | undefined;
    const jid = requester(ctx);
    if (node && isDomain(ctx.stanza.attrs.to)) {
      if (node === NS_COMMANDS) return discoInfo(true, Boolean(services.registration), node);
      return (jid && commands.info(jid, node)) ?? stanzaError("cancel", "item-not-found");
    }
    const contact = contactOf(ctx.stanza.attrs.to);
    if (node && contact && node !== NS_COMMANDS) return (jid && commands.info(jid, node, contact)) ?? stanzaError("cancel", "item-not-found");
    return discoInfo(isDomain(ctx.stanza.attrs.to), Boolean(services.registration), node);
  });
  iq.get(NS.discoItems, "query", (ctx) => {
    const jid = requester(ctx);
    if (ctx.element.attrs.node === NS_COMMANDS && isDomain(ctx.stanza.attrs.to) && jid) return commands.items(jid);
    // XEP-0050 §2.2: a correspondent's JID offers the commands about that correspondent.
    const contact = contactOf(ctx.stanza.attrs.to);
    if (ctx.element.attrs.node === NS_COMMANDS && contact && jid) return commands.items(jid, contact);
    return discoItems();
  });
  iq.get(NS.ping, "ping", () => true);
  iq.get(NS.version, "query", () => versionInfo(config.version));

  // XEP-0100 §6.3: the prompt turns an address into the contact's JID.
  iq.get(NS.gateway, "query", (ctx) => (isDomain(ctx.stanza.attrs.to)
    ? xml("query", { xmlns: NS.gateway }, xml("desc", {}, "Enter the e-mail address of the person you want to write to."),
      xml("prompt", {}, "E-mail address"))
    : stanzaError("cancel", "service-unavailable")));
  iq.set(NS.gateway, "query", (ctx) => {
    if (!isDomain(ctx.stanza.attrs.to)) return stanzaError("cancel", "service-unavailable");
    const address = readTypedAddress(ctx.element.getChildText("prompt") ?? "", config.domain);
    if (!address) return stanzaError("modify", "not-acceptable", "That is not an e-mail address (expected name@example.org).");
    const jid = addressToJid(address, config.domain);
    return xml("query", { xmlns: NS.gateway }, xml("jid", {}, jid));
  });

  // XEP-0054 vcard-temp: the name a contact goes by, and its address.
  iq.get(NS.vcard, "vCard", async (ctx) => {
    const jid = requester(ctx);
    if (isDomain(ctx.stanza.attrs.to)) {
      return xml("vCard", { xmlns: NS.vcard }, xml("FN", {}, "E-mail gateway (Passerelle)"));
    }
    const address = jidToAddress(String(ctx.stanza.attrs.to ?? "").split("/")[0] ?? "", config.domain);
    if (!address || !jid) return stanzaError("cancel", "item-not-found");
    const name = await services.contactName(jid, address);
    return xml("vCard", { xmlns: NS.vcard }, xml("FN", {}, sanitizeLine(name ?? address)),
      name ? xml("NICKNAME", {}, sanitizeLine(name)) : null,
      xml("EMAIL", {}, xml("INTERNET"), xml("USERID", {}, address)));
  });

  iq.set(NS.commands, "command", (ctx) => {
    const jid = requester(ctx);
    const contact = contactOf(ctx.stanza.attrs.to);
    if (!jid || (!isDomain(ctx.stanza.attrs.to) && !contact)) return stanzaError("cancel", "service-unavailable");
    return commands.execute(jid, ctx.element, contact);
  });

  installRegistration(config, iq, send, services.registration, log);

  /** RFC 6121 §3 subscriptions to the gateway or a contact: approved, returned, remembered. */
  async function onPresence(stanza: Element): Promise<void> {
    const user = bareOf(stanza.attrs.from);
    const to = String(stanza.attrs.to ?? "").split("/")[0]!.toLowerCase();
    const isContact = !isDomain(to) && jidToAddress(to, config.domain) !== null;
    if (!user || (!isDomain(to) && !isContact)) return;
    const me = isDomain(to) ? config.domain : to;
    // docs/design.md §Presence: a contact's availability comes from one full JID, the fixed resource
    // (clients show only presence from a resource); subscription stanzas from the bare JID (RFC 6121 §3).
    const shown = isDomain(to) ? config.domain : `${to}/${CONTACT_RESOURCE}`;
    const type = stanza.attrs.type as string | undefined;
    if (isDomain(to) && (type === undefined || type === "unavailable")) {
      services.userPresence?.(String(stanza.attrs.from), type === "unavailable" ? null
        : readPresence(stanza.getChildText("show") ?? undefined, stanza.getChildText("priority") ?? undefined, stanza.getChildText("status") ?? undefined));
    }
    const presence = (t?: string, ...children: (Element | null)[]) => send(xml("presence", { from: me, to: user, ...(t ? { type: t } : {}) }, ...children));
    const available = () => send(availablePresence(shown, stanza.attrs.from ?? user, isDomain(to) ? "E-mail gateway" : "E-mail"));
    switch (type) {
      case "subscribe": {
        const before = await services.getSubscription(user, me);
        // §3.1.3: a request already approved is answered `subscribed`, and nothing more.
        if (before.fromUser) return presence("subscribed");
        const kept = await services.setSubscription(user, me, { fromUser: true });
        // No mailbox, no row (docs/design.md §Budgets): the gateway's own presence is public; a
        // contact's is refused (§3.2.1), as such a JID cannot write to anyone through us.
        if (!kept && isContact) return presence("unsubscribed");
        await presence("subscribed");
        await available();
        // §3.1.5 and XEP-0100 §4.1.1: ask back, so both sides see each other; once per pair, whatever
        // the user answers (or if they never do).
        if (!kept || before.toUser || !(await services.askOnce(user, me))) return;
        const name = isContact ? await services.contactName(user, jidToAddress(to, config.domain)!) : null;
        await presence("subscribe", name ? xml("nick", { xmlns: NS.nick }, sanitizeLine(name)) : null);
        return;
      }
      case "subscribed":
        await services.setSubscription(user, me, { toUser: true });
        return;
      case "unsubscribe":
        await services.setSubscription(user, me, { fromUser: false });
        await presence("unsubscribed");
        return send(xml("presence", { from: shown, to: user, type: "unavailable" }));
      case "unsubscribed":
        await services.setSubscription(user, me, { toUser: false });
        return;
      case "probe": {
        // §4.3.2: presence only for a user subscribed to us (to anyone for the gateway itself, whose
        // presence is public and remembered for no one without a mailbox); otherwise say they are not.
        const state = await services.getSubscription(user, me);
        return state.fromUser || isDomain(to) ? available() : presence("unsubscribed");
      }
      default:
        // A user's own available or unavailable presence is not answered: at each login their server
        // probes every contact they are subscribed to (§4.2.2, §4.3) and the probe's answer is the one
        // presence the new resource gets; answering the broadcast (§4.4.2), or the presence the server
        // sends once the user approves our request (§3.1.5), would say it a second and third time.
        return;
    }
  }

  const onMessage = createGatewayChat(config, { send, log, admit: (jid) => commands.admit(jid),
    ...(services.chatCommand ? { answer: services.chatCommand } : {}) });

  return { onPresence, onMessage };
}

export { bareOf };
