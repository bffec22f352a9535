// Self-service mailboxes (XEP-0077 registration): which address an account may take. Pure.
import { parseMailAddress } from "./addresses.ts";
import { precisUsername, type NameRepertoire } from "./precis.ts";
import { CATCH_ALL } from "./recipients.ts";
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

/**
 * `wanted` at `domain`, normalised (RFC 8265 §3.3), if it is a name anyone may hold. Never a catch-all
 * (`*`) nor a name holding a RECIPIENT_DELIMITER character (`delimiters`): that name would be another
 * mailbox's subaddress (docs/design.md §Addresses).
 */
export function selfServiceAddress(wanted: string, domain: string, repertoire: NameRepertoire = "ascii", delimiters = ""): LocalpartVerdict {
  const name = precisUsername(wanted, repertoire);
  if (!name.ok) return name;
  const local = name.name;
  const delimiter = [...local].find((ch) => ch === CATCH_ALL || delimiters.includes(ch));
  if (delimiter) {
    return { ok: false, why: `A name cannot hold “${delimiter}”: here it ${delimiter === CATCH_ALL ? "stands for every address" : "starts a subaddress (name+tag)"}.` };
  }
  // Also the bounce prefix and what mailing-list software answers from (owner-list, list-request).
  if (RESERVED.has(skeleton(local)) || /^(bounces?[+-]|owner-)|-request$/.test(local)) {
    return { ok: false, why: `${local} is reserved for the server's own use.` };
  }
  const address = parseMailAddress(`${local}@${domain}`);
  return address ? { ok: true, address, local } : { ok: false, why: "That does not make a valid e-mail address." };
}

export interface NamePolicy {
  repertoire: NameRepertoire;
  /** mail domains where an account may choose a name other than its own (none by default) */
  freeNameDomains: readonly string[];
  /** RECIPIENT_DELIMITER: no name holds one of these */
  delimiters?: string;
}

/**
 * The name `jid` may take; its mailbox domain is `domain`. By default only its own localpart there, so a
 * mail address names the account of the same name and no other account can hold it. On a domain listed in
 * `freeNameDomains` (a mail domain whose names are not XMPP accounts' names) any name that is not taken:
 * `name` when `domain` is one, or `name@free.domain`.
 */
export function chooseName(jid: string, wanted: string | null, domain: string, policy: NamePolicy): LocalpartVerdict {
  const isFree = (d: string) => policy.freeNameDomains.some((f) => f.toLowerCase() === d.toLowerCase());
  const at = wanted?.lastIndexOf("@") ?? -1;
  const target = at < 0 ? domain : wanted!.slice(at + 1).trim();
  const asked = at < 0 ? wanted : wanted!.slice(0, at);
  if (asked !== null && isFree(target)) return selfServiceAddress(asked, target, policy.repertoire, policy.delimiters);
  const own = selfServiceAddress(jid.slice(0, jid.lastIndexOf("@")), domain, policy.repertoire, policy.delimiters);
  if (asked !== null && (target.toLowerCase() !== domain.toLowerCase() || !own.ok || precisName(asked, policy) !== own.local)) {
    const elsewhere = policy.freeNameDomains.length ? ` (a name of your choice: name@${policy.freeNameDomains[0]})` : "";
    return { ok: false, why: own.ok
      ? `Each account gets the mailbox of its own name: yours is ${own.address}; no other name can be chosen${elsewhere}.`
      : `Your account's name cannot be a mailbox here (${own.why}); no other name can be chosen${elsewhere}.` };
  }
  return own.ok ? own : { ok: false, why: `Your account's name cannot be a mailbox here: ${own.why}` };
}

const precisName = (name: string, policy: NamePolicy) => {
  const v = precisUsername(name, policy.repertoire);
  return v.ok ? v.name : null;
};

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
