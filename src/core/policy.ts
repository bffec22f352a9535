// Self-service mailboxes (XEP-0077 registration): which address an account may take. Pure.
import { parseMailAddress } from "./addresses.ts";
import { precisUsername, type NameRepertoire } from "./precis.ts";
import { skeleton } from "./skeleton.ts";
import type { MailAddress } from "./types.ts";

/**
 * Never handed out to a user: RFC 2142 §3–5 (business, network operations and service mailboxes), the
 * addresses mail software answers from, and our own bounce prefix (src/core/verp.ts). Compared by skeleton,
 * so `p0stmaster` and `аdmin` (Cyrillic а) are reserved too.
 */
export const RESERVED_NAMES = [
  "info", "marketing", "sales", "support", // RFC 2142 §3
  "abuse", "noc", "security", // §4
  "postmaster", "hostmaster", "usenet", "news", "webmaster", "www", "uucp", "ftp", // §5
  "root", "admin", "administrator", "mailer-daemon", "mailerdaemon", "bounces", "bounce", "no-reply", "noreply",
  "do-not-reply", "donotreply", "nobody", "daemon", "system", "sysadmin", "operator", "list", "lists",
  "listmaster", "owner", "ssl-admin", "ssladmin", "dmarc", "gateway", "passerelle",
] as const;
const RESERVED = new Set(RESERVED_NAMES.map(skeleton));

export type LocalpartVerdict = { ok: true; address: MailAddress; local: string } | { ok: false; why: string };

/** `wanted` at `domain`, normalised (RFC 8265 §3.3), if it is a name anyone may hold. */
export function selfServiceAddress(wanted: string, domain: string, repertoire: NameRepertoire = "ascii"): LocalpartVerdict {
  const name = precisUsername(wanted, repertoire);
  if (!name.ok) return name;
  const local = name.name;
  if (RESERVED.has(skeleton(local)) || /^bounces?[+-]/.test(local) || /^owner-|-(owner|request)$/.test(local)) {
    return { ok: false, why: `${local} is reserved for the server's own use.` };
  }
  const address = parseMailAddress(`${local}@${domain}`);
  return address ? { ok: true, address, local } : { ok: false, why: "That does not make a valid e-mail address." };
}

export interface NamePolicy {
  repertoire: NameRepertoire;
  /** mail domains where an account may choose a name other than its own (none by default) */
  freeNameDomains: readonly string[];
}

/**
 * The name `jid` may take at `domain`. By default only its own localpart, so a mail address names the
 * account of the same name and no other account can hold it; on a domain listed in `freeNameDomains`
 * (a mail domain whose names are not those of XMPP accounts) any name that is not taken.
 */
export function chooseName(jid: string, wanted: string | null, domain: string, policy: NamePolicy): LocalpartVerdict {
  const own = selfServiceAddress(jid.slice(0, jid.lastIndexOf("@")), domain, policy.repertoire);
  const free = policy.freeNameDomains.some((d) => d.toLowerCase() === domain.toLowerCase());
  if (wanted === null || !free) {
    if (!own.ok) return { ok: false, why: `Your account's name cannot be a mailbox here: ${own.why}` };
    if (wanted !== null) {
      const asked = precisUsername(wanted, policy.repertoire);
      if (!asked.ok || asked.name !== own.local) {
        return { ok: false, why: `Each account gets the mailbox of its own name: yours is ${own.address}; no other name can be chosen.` };
      }
    }
    return own;
  }
  return selfServiceAddress(wanted, domain, policy.repertoire);
}

/** The mail domain of an account's mailbox: its own server's domain when that is a mail domain, else the first. */
export function mailboxDomain(jid: string, mailDomains: readonly string[]): string {
  const domain = jid.slice(jid.lastIndexOf("@") + 1).toLowerCase();
  return mailDomains.find((d) => d.toLowerCase() === domain) ?? mailDomains[0]!;
}

/** May this account register at all? Its server must be one of the self-service domains. */
export function mayRegister(jid: string, domains: readonly string[]): boolean {
  const domain = jid.slice(jid.lastIndexOf("@") + 1).toLowerCase();
  return jid.includes("@") && domains.includes(domain);
}
