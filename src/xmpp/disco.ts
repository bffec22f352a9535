// XEP-0030 service discovery and XEP-0092 version for the component domain.
import xmppComponent, { type Element, type IqContext } from "@xmpp/component";
import { NS } from "./stanzas.ts";

const { xml } = xmppComponent;

const DOMAIN_FEATURES = [NS.discoInfo, NS.ping, NS.version, "jid\\20escaping"];
const CONTACT_FEATURES = [NS.discoInfo];

/** disco#info: the domain is a `gateway/smtp` (XEP-0030 registry); contacts stand for mail correspondents. */
export function discoInfo(ctx: IqContext, componentDomain: string): Element {
  const to = String(ctx.stanza.attrs.to ?? "");
  const isDomain = to.toLowerCase() === componentDomain.toLowerCase();
  const features = isDomain ? DOMAIN_FEATURES : CONTACT_FEATURES;
  return xml("query", { xmlns: NS.discoInfo, node: ctx.element.attrs.node },
    // XEP-0030 §3.1: every disco#info result carries at least one identity.
    isDomain
      ? xml("identity", { category: "gateway", type: "smtp", name: "Passerelle mail gateway" })
      : xml("identity", { category: "account", type: "registered", name: "e-mail correspondent" }),
    ...features.map((v) => xml("feature", { var: v })));
}

export function discoItems(): Element {
  return xml("query", { xmlns: NS.discoItems });
}

export function versionInfo(version: string): Element {
  return xml("query", { xmlns: NS.version }, xml("name", {}, "Passerelle"), xml("version", {}, version));
}
