// Address ⇄ JID mapping, the gateway's one identity rule (docs/design.md §Contract, Addressing).
import type { BareJid, MailAddress } from "./types.ts";

/** XEP-0106 §3.2 table: the ten characters escaped as `\XX` in a localpart. */
const ESCAPES: ReadonlyArray<readonly [string, string]> = [
  [" ", "\\20"], ['"', "\\22"], ["&", "\\26"], ["'", "\\27"], ["/", "\\2f"],
  [":", "\\3a"], ["<", "\\3c"], [">", "\\3e"], ["@", "\\40"], ["\\", "\\5c"],
];
const SEQUENCE = /\\(20|22|26|27|2f|3a|3c|3e|40|5c)/gi;
const STARTS_SEQUENCE = /^\\(20|22|26|27|2f|3a|3c|3e|40|5c)/i;
const CONTROL = /[\u0000-\u001F\u007F]/;
// RFC 5321 §4.5.3.1: local part at most 64 octets, domain at most 255, path at most 256.
const MAX_LOCAL = 64;
const MAX_DOMAIN = 255;
const DOMAIN_LABEL = /^(?!-)[\p{L}\p{N}-]{1,63}(?<!-)$/u;
// RFC 5321 §4.1.2 Dot-string (atext and dots; RFC 6531 adds UTF-8) or Quoted-string. Nothing else:
// `a@x, b@y` must never read as one address (a second recipient hidden in a JID).
const DOT_STRING = /^[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~.\u0080-\u{10FFFF}]+$/u;
const QUOTED_STRING = /^"(?:[\x20\x21\x23-\x5B\x5D-\x7E\u0080-\u{10FFFF}]|\\[\x20-\x7E])*"$/u;

/**
 * XEP-0106 §4.2: escape the escapable characters; a backslash is escaped only where it would otherwise
 * begin an escape sequence, so `a\b` stays `a\b` but `a\40b` becomes `a\5c40b`.
 */
export function escapeLocalpart(local: string): string {
  let out = "";
  for (let i = 0; i < local.length; i++) {
    const ch = local[i]!;
    if (ch === "\\") {
      out += STARTS_SEQUENCE.test(local.slice(i)) ? "\\5c" : "\\";
      continue;
    }
    const escape = ESCAPES.find(([c]) => c === ch);
    out += escape ? escape[1] : ch;
  }
  return out;
}

/** XEP-0106 §3.3: each recognised `\XX` becomes its character; anything else is left as it is. */
export function unescapeLocalpart(local: string): string {
  return local.replace(SEQUENCE, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

/** Validate an e-mail address (RFC 5321 §4.1.2 in spirit, UTF-8 allowed per RFC 6531). Case is kept. */
export function parseMailAddress(value: string): MailAddress | null {
  const at = value.lastIndexOf("@");
  if (at <= 0 || at === value.length - 1 || CONTROL.test(value)) return null;
  const local = value.slice(0, at);
  const domain = value.slice(at + 1);
  if (Buffer.byteLength(local) > MAX_LOCAL || Buffer.byteLength(domain) > MAX_DOMAIN) return null;
  if (!DOT_STRING.test(local) && !QUOTED_STRING.test(local)) return null;
  if (!domain.split(".").every((label) => DOMAIN_LABEL.test(label))) return null;
  return value as MailAddress;
}

export function domainOf(address: MailAddress): string {
  return address.slice(address.lastIndexOf("@") + 1).toLowerCase();
}

/**
 * `Alice@Example.com` → `alice\40example.com@mail.example.org` (docs/design.md §Contract, Addressing). Lower case: RFC 7622
 * §3.3 folds the case of a localpart, Prosody does it on the way and ejabberd does not, so we do it here and
 * one correspondent is one contact on every server. The original case goes back into mail from the stored
 * message (queue/outbound.ts).
 */
export function addressToJid(address: MailAddress, componentDomain: string): BareJid {
  return `${escapeLocalpart(address).toLowerCase()}@${componentDomain}` as BareJid;
}

/**
 * The JID of a correspondent back to an address: the XEP-0106 form, or the old transport form
 * `alice%example.com@…` split on the last `%`. null when the JID is not one of our contacts or
 * does not carry a valid address.
 */
export function jidToAddress(jid: string, componentDomain: string): MailAddress | null {
  const bare = jid.split("/")[0] ?? "";
  const at = bare.lastIndexOf("@");
  if (at <= 0 || bare.slice(at + 1).toLowerCase() !== componentDomain.toLowerCase()) return null;
  const local = unescapeLocalpart(bare.slice(0, at));
  const direct = local.includes("@") ? parseMailAddress(local) : null;
  if (direct) return direct;
  // Not an address in the XEP-0106 form (e.g. `"@"%example.com`: a quoted local part holding an @):
  // the old transport form still applies.
  const percent = local.lastIndexOf("%");
  if (percent <= 0) return null;
  return parseMailAddress(`${local.slice(0, percent)}@${local.slice(percent + 1)}`);
}

/** A bare JID for comparisons: RFC 7622 localpart and domain compare case-insensitively. */
export function parseBareJid(value: string): BareJid | null {
  const bare = value.trim();
  const at = bare.indexOf("@");
  if (at <= 0 || bare.includes("/") || CONTROL.test(bare) || /\s/u.test(bare)) return null;
  const domain = bare.slice(at + 1);
  if (!domain.split(".").every((label) => DOMAIN_LABEL.test(label))) return null;
  return bare.toLowerCase() as BareJid;
}

/**
 * What a person typed as a correspondent: `alice@example.com`, `<alice@example.com>`, `mailto:…`, or one of
 * our contact JIDs (XEP-0106 or `%` form). null when it is none of these.
 */
export function readTypedAddress(typed: string, componentDomain: string): MailAddress | null {
  const value = typed.trim().replace(/^mailto:/i, "").replace(/^<(.*)>$/, "$1").trim();
  const domain = value.slice(value.lastIndexOf("@") + 1).toLowerCase();
  // Our own domain names a contact, never a mailbox there: `alice%example.com@gateway` is alice@example.com.
  if (domain === componentDomain.toLowerCase()) return jidToAddress(value, componentDomain);
  return parseMailAddress(value);
}

// RFC 5122 §2.2 nodeid: unreserved (RFC 3986 §2.3) and nodeallow; everything else is percent-encoded.
const URI_NODE = /^[A-Za-z0-9\-._~!$()*+,;=]$/;

/**
 * The `xmpp:` URI of a bare JID (RFC 5122 §2.2), in its URI form so that clients make it a link: each
 * localpart character outside nodeid — the XEP-0106 `\` among them — percent-encoded as UTF-8 octets.
 * `alice\40example.com@mail.example.org` → `xmpp:alice%5C40example.com@mail.example.org`.
 */
export function xmppUri(jid: BareJid): string {
  const at = jid.lastIndexOf("@");
  const node = [...jid.slice(0, Math.max(at, 0))].map((ch) => URI_NODE.test(ch) ? ch
    : [...Buffer.from(ch, "utf8")].map((b) => `%${b.toString(16).toUpperCase().padStart(2, "0")}`).join("")).join("");
  return `xmpp:${at > 0 ? `${node}@` : ""}${jid.slice(at + 1)}`;
}
