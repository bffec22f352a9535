// XEP-0077 in-band registration with the gateway: a mailbox for the user's account. What is decided, and
// the words for it, come from services/registration.ts; every answer says what actually happened: a
// refusal is a stanza error with words, a success is also told as a chat message from the gateway's JID
// (an IQ result carries no text).
import xmppComponent, { type Element, type IqContext } from "@xmpp/component";
import type { Logger } from "../log.ts";
import { stanzaError } from "./commands.ts";
import type { GatewayServices } from "./gateway.ts";
import { NS, noticeStanza } from "./stanzas.ts";
import { parseBareJid } from "../core/addresses.ts";

const { xml } = xmppComponent;

interface IqCallee { get(ns: string, name: string, h: (ctx: IqContext) => unknown): void; set(ns: string, name: string, h: (ctx: IqContext) => unknown): void }

export function installRegistration(config: { domain: string }, iq: IqCallee, send: (stanza: Element) => Promise<void>,
  registration: GatewayServices["registration"], log: Logger): void {
  const isDomain = (to: unknown) => String(to ?? "").toLowerCase() === config.domain.toLowerCase();
  const requester = (ctx: IqContext) => parseBareJid(String(ctx.stanza.attrs.from ?? "").split("/")[0] ?? "");
  /** The words of a success, to the full JID that asked, once the result is on its way. */
  const tell = (ctx: IqContext, text: string) => {
    setImmediate(() => void send(noticeStanza(config.domain, String(ctx.stanza.attrs.from), text)).catch(() => undefined));
  };

  iq.get(NS.register, "query", async (ctx) => {
    const jid = requester(ctx);
    if (!registration || !isDomain(ctx.stanza.attrs.to)) return stanzaError("cancel", "service-unavailable");
    if (!jid) return stanzaError("modify", "bad-request");
    const info = await registration.info(jid);
    if (!info.address && !info.allowed) return stanzaError("cancel", "not-allowed", info.why ?? "Mailboxes are offered to accounts of this server only.");
    // XEP-0077 §3.1: a registered entity gets <registered/> and its current registration (the form prefilled).
    return xml("query", { xmlns: NS.register }, info.address ? xml("registered") : null,
      xml("instructions", {}, info.instructions ?? ""), xml("username", {}, info.username ?? ""));
  });

  iq.set(NS.register, "query", async (ctx) => {
    const jid = requester(ctx);
    if (!registration || !isDomain(ctx.stanza.attrs.to)) return stanzaError("cancel", "service-unavailable");
    if (!jid) return stanzaError("modify", "bad-request");
    // XEP-0077 §3.2: cancel the registration.
    const result = ctx.element.getChild("remove") ? await registration.unregister(jid)
      : await registration.register(jid, ctx.element.getChildText("username")?.trim() || null);
    if ("type" in result) return stanzaError(result.type, result.condition, result.text);
    log.info({ jid, outcome: result.text }, "registration");
    tell(ctx, result.text);
    return true;
  });
}
