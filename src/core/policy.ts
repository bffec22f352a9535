// Self-service mailboxes (XEP-0077 registration): which address an account may take. Pure.
import { parseMailAddress } from "./addresses.ts";
import type { MailAddress } from "./types.ts";

/** RFC 2142 role mailboxes and our own bounce prefix: never handed out to a user. */
const RESERVED = new Set(["postmaster", "abuse", "hostmaster", "webmaster", "security", "noc", "root", "admin",
  "administrator", "mailer-daemon", "bounces", "no-reply", "noreply", "support", "info"]);
// Letters, digits and . _ - only, starting and ending with a letter or digit: an address people can type.
const LOCALPART = /^[\p{Ll}\p{Lo}\p{N}](?:[\p{Ll}\p{Lo}\p{N}._-]{0,62}[\p{Ll}\p{Lo}\p{N}])?$/u;

export type LocalpartVerdict = { ok: true; address: MailAddress } | { ok: false; why: string };

/** `wanted` (or the account's own localpart) at `domain`, if policy allows it. */
export function selfServiceAddress(wanted: string, domain: string): LocalpartVerdict {
  const local = wanted.trim().toLowerCase();
  if (!LOCALPART.test(local) || local.includes("..")) {
    return { ok: false, why: "Use letters, digits, dots, dashes or underscores (at most 64), starting and ending with a letter or digit." };
  }
  if (RESERVED.has(local) || local.startsWith("bounces+")) return { ok: false, why: `${local} is reserved for the server's own use.` };
  const address = parseMailAddress(`${local}@${domain}`);
  return address ? { ok: true, address } : { ok: false, why: "That does not make a valid e-mail address." };
}

/** May this account register at all? Its server must be one of the self-service domains. */
export function mayRegister(jid: string, domains: readonly string[]): boolean {
  const domain = jid.slice(jid.lastIndexOf("@") + 1).toLowerCase();
  return jid.includes("@") && domains.includes(domain);
}
