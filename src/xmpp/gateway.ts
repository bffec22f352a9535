// The gateway as clients know one: discovery, XEP-0100 address prompt, XEP-0077 registration,
// XEP-0050 commands, vcard-temp names, and RFC 6121 presence subscriptions. Decisions come from services.
import xmppComponent, { type Element, type IqContext } from "@xmpp/component";
import { addressToJid, jidToAddress, parseBareJid, parseMailAddress } from "../core/addresses.ts";
import { sanitizeLine } from "../core/sanitize.ts";
import type { BareJid, MailAddress } from "../core/types.ts";
import type { Logger } from "../log.ts";
import { createCommands, NS_COMMANDS, stanzaError, type CommandBudget, type CommandSpec } from "./commands.ts";
import { discoInfo, discoItems, versionInfo } from "./disco.ts";
import { NS } from "./stanzas.ts";

const { xml } = xmppComponent;

export interface SubscriptionState { fromUser: boolean; toUser: boolean }

export type RegisterResult = { address: string } | { type: string; condition: string; text: string };

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
    /** the mailbox this JID has, or may get */
    info(jid: BareJid): Promise<{ allowed: boolean; address: string | null; suggested: string | null; why?: string; instructions?: string }>;
    register(jid: BareJid, localpart: string | null): Promise<RegisterResult>;
    unregister(jid: BareJid): Promise<boolean>;
  };
  commands: CommandSpec[];
  isAdmin(jid: BareJid): boolean;
}

type Send = (stanza: Element) => Promise<void>;
interface IqCallee { get(ns: string, name: string, h: (ctx: IqContext) => unknown): void; set(ns: string, name: string, h: (ctx: IqContext) => unknown): void }

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
    const typed = (ctx.element.getChildText("prompt") ?? "").trim().replace(/^mailto:/i, "").replace(/^<(.*)>$/, "$1");
    const address = parseMailAddress(typed);
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

  // XEP-0077 in-band registration with the gateway: a mailbox for the user's account.
  iq.get(NS.register, "query", async (ctx) => {
    const jid = requester(ctx);
    if (!services.registration || !isDomain(ctx.stanza.attrs.to)) return stanzaError("cancel", "service-unavailable");
    if (!jid) return stanzaError("modify", "bad-request");
    const info = await services.registration.info(jid);
    if (info.address) {
      return xml("query", { xmlns: NS.register }, xml("registered"),
        xml("instructions", {}, `Your mailbox is ${info.address}. Unregister to disable it.`),
        xml("username", {}, info.address.slice(0, info.address.lastIndexOf("@"))));
    }
    if (!info.allowed) return stanzaError("cancel", "not-allowed", info.why ?? "Mailboxes are offered to accounts of this server only.");
    return xml("query", { xmlns: NS.register },
      xml("instructions", {}, info.instructions ?? `Register to get the mailbox ${info.suggested}.`),
      xml("username", {}, info.suggested?.slice(0, info.suggested.lastIndexOf("@")) ?? ""));
  });
  iq.set(NS.register, "query", async (ctx) => {
    const jid = requester(ctx);
    if (!services.registration || !isDomain(ctx.stanza.attrs.to)) return stanzaError("cancel", "service-unavailable");
    if (!jid) return stanzaError("modify", "bad-request");
    if (ctx.element.getChild("remove")) {
      // XEP-0077 §3.2: cancel the registration; the mailbox is disabled, its mail kept.
      return (await services.registration.unregister(jid)) ? true
        : stanzaError("cancel", "item-not-found", "You have no self-service mailbox to remove (an administrator's mailbox stays).");
    }
    const wanted = ctx.element.getChildText("username")?.trim() || null;
    const result = await services.registration.register(jid, wanted);
    if ("address" in result) {
      log.info({ jid, address: result.address }, "mailbox registered");
      return true;
    }
    return stanzaError(result.type, result.condition, result.text);
  });

  /** RFC 6121 §3 subscriptions to the gateway or a contact: approved, returned, remembered. */
  async function onPresence(stanza: Element): Promise<void> {
    const user = bareOf(stanza.attrs.from);
    const to = String(stanza.attrs.to ?? "").split("/")[0]!.toLowerCase();
    const isContact = !isDomain(to) && jidToAddress(to, config.domain) !== null;
    if (!user || (!isDomain(to) && !isContact)) return;
    const me = isDomain(to) ? config.domain : to;
    const type = stanza.attrs.type as string | undefined;
    const presence = (t?: string, ...children: (Element | null)[]) => send(xml("presence", { from: me, to: user, ...(t ? { type: t } : {}) }, ...children));
    const available = () => send(xml("presence", { from: me, to: stanza.attrs.from ?? user },
      xml("status", {}, isDomain(to) ? "E-mail gateway" : "E-mail")));
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
        return presence("unavailable");
      case "unsubscribed":
        await services.setSubscription(user, me, { toUser: false });
        return;
      case "probe": {
        // §4.3.2: presence only for a user subscribed to us (to anyone for the gateway itself, whose
        // presence is public and remembered for no one without a mailbox); otherwise say they are not.
        const state = await services.getSubscription(user, me);
        return state.fromUser || isDomain(to) ? available() : presence("unsubscribed");
      }
      case undefined: {
        // The user came online and told us (we are subscribed to them): answer with ours (§4.4.3).
        const state = await services.getSubscription(user, me);
        if (state.fromUser) await available();
        return;
      }
      default:
        return;
    }
  }

  return { onPresence };
}

export { bareOf };
