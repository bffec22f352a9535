// The role addresses every mail domain answers for: RFC 5321 §4.5.1 (`postmaster`, which a server MUST
// accept, and `Postmaster` without a domain, RFC 5321 §4.1.1.3) and RFC 2142 §2 (`abuse`). Without a
// mailbox of their own they go to the administrators (ADMIN_JIDS), one delivery each.
import type { BareJid, MailAddress, Recipient } from "./types.ts";

export type Role = "postmaster" | "abuse";

/** RFC 5321 §4.1.1.3: `RCPT TO:<Postmaster>` (any case) names the postmaster of the server's domain. */
export function withPostmasterDomain(address: string, domain: string | undefined): string {
  return domain && address.toLowerCase() === "postmaster" ? `${address}@${domain}` : address;
}

/** The role an address of one of `mailDomains` stands for, compared case-insensitively; null for others. */
export function roleOf(address: string, mailDomains: readonly string[]): Role | null {
  const at = address.lastIndexOf("@");
  const local = address.slice(0, at).toLowerCase();
  const domain = address.slice(at + 1).toLowerCase();
  if (at <= 0 || !mailDomains.some((d) => d.toLowerCase() === domain)) return null;
  return local === "postmaster" || local === "abuse" ? local : null;
}

/**
 * The recipient a role address without an enabled mailbox stands for: every administrator. With none,
 * `postmaster` is still accepted (RFC 5321 §4.5.1: MUST) and its mail kept with a failed delivery that
 * says why (`queue --failed`); `abuse` is refused then (undefined), as a mail no one will read would be
 * accepted and dropped (docs/design.md §Invariants, 2: refuse at RCPT).
 */
export function roleRecipient(address: MailAddress, config: { mailDomains: readonly string[]; adminJids: readonly string[] }):
  Recipient | undefined {
  const role = roleOf(address, config.mailDomains);
  if (!role) return undefined;
  const admins = [...new Set(config.adminJids.map((j) => j.toLowerCase()))] as BareJid[];
  if (admins.length === 0 && role === "abuse") return undefined;
  return { address, jid: (admins[0] ?? address.toLowerCase()) as BareJid, enabled: true, admins };
}

/** Why the mail to a role address with no administrator is kept undelivered (shown by `queue --failed`). */
export const unattended = (address: string) =>
  `no mailbox for ${address} and no ADMIN_JIDS: the mail is kept; set ADMIN_JIDS or add a mailbox for ${address} for the next ones`;
