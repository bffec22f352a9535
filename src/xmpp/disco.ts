// XEP-0030 service discovery and XEP-0092 version for the component domain and its contacts.
import xmppComponent, { type Element } from "@xmpp/component";
import { NS } from "./stanzas.ts";

const { xml } = xmppComponent;

/** What the gateway JID really supports; XEP-0077 only when self-service registration is on. */
export function domainFeatures(registration: boolean): string[] {
  return [NS.discoInfo, NS.discoItems, NS.ping, NS.version, NS.gateway, "jid\\20escaping", NS.commands,
    NS.receipts, NS.vcard, ...(registration ? [NS.register] : [])];
}

/** A contact stands for a mail correspondent: it answers disco and vCard, sends receipts for mail, and
 * offers commands about the correspondent (block, spam: XEP-0050 §2.2). */
export const CONTACT_FEATURES = [NS.discoInfo, NS.receipts, NS.vcard, NS.commands];

/** disco#info: the domain is a `gateway/smtp` (XEP-0030 registry); contacts are correspondents. */
export function discoInfo(isDomain: boolean, registration: boolean, node?: string): Element {
  return xml("query", { xmlns: NS.discoInfo, node },
    // XEP-0030 §3.1: every disco#info result carries at least one identity.
    isDomain
      ? xml("identity", { category: "gateway", type: "smtp", name: "E-mail (Passerelle)" })
      : xml("identity", { category: "account", type: "registered", name: "e-mail correspondent" }),
    ...(isDomain ? domainFeatures(registration) : CONTACT_FEATURES).map((v) => xml("feature", { var: v })));
}

export function discoItems(): Element {
  return xml("query", { xmlns: NS.discoItems });
}

export function versionInfo(version: string): Element {
  return xml("query", { xmlns: NS.version }, xml("name", {}, "Passerelle"), xml("version", {}, version));
}
