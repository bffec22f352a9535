// Which mailbox an RCPT address reaches: the exact mailbox, a subaddress of one (`toto+news@` reaches
// `toto@`, as Postfix's recipient_delimiter), a role address (core/role-addresses.ts) or the domain's
// catch-all (`*@domain`). The order is docs/design.md §Addresses. Pure: the rows come in from the store.
import { roleRecipient } from "./role-addresses.ts";
import type { MailAddress, Mailbox, Recipient } from "./types.ts";

/** The local part of a catch-all row: `*@domain` stands for every address of the domain without a mailbox. */
export const CATCH_ALL = "*";

/** RFC 5322 §3.2.3 atext without letters, digits and the dot: the characters RECIPIENT_DELIMITER may hold. */
export const DELIMITER_CHARS = "!#$%&'*+-/=?^_`{|}~";

/** Our VERP prefix (core/verp.ts): never split, never a catch-all's (a stale bounce is refused, not delivered). */
const BOUNCE_FORM = /^bounces\+/i;

export interface RecipientRules {
  /** RECIPIENT_DELIMITER: any one of these characters ends the mailbox part of a local part; "" turns it off */
  delimiters: string;
  mailDomains: readonly string[];
  adminJids: readonly string[];
}

const localOf = (address: string) => address.slice(0, address.lastIndexOf("@"));
const domainPart = (address: string) => address.slice(address.lastIndexOf("@") + 1);

/** `*@domain` for an address of `domain` (lower case). */
export function catchAllOf(address: string): MailAddress {
  return `${CATCH_ALL}@${domainPart(address).toLowerCase()}` as MailAddress;
}

export function isCatchAll(address: string): boolean {
  return localOf(address) === CATCH_ALL;
}

/**
 * Postfix's split_addr (recipient_delimiter, several characters since 2.11): the local part ends at the first
 * of the delimiters, and what follows is the tag. Not split: a quoted local part (RFC 5321 §4.1.2: its text
 * is the mailbox name as it is), one that starts with a delimiter or holds none, `postmaster` and
 * `mailer-daemon`, `owner-x` and `x-request` when `-` is a delimiter (list software's own names), and our
 * bounce addresses.
 */
export function splitSubaddress(address: string, delimiters: string): { base: MailAddress; tag: string } | null {
  const local = localOf(address);
  if (!delimiters || local.startsWith('"') || BOUNCE_FORM.test(local)) return null;
  const lower = local.toLowerCase();
  if (lower === "postmaster" || lower === "mailer-daemon") return null;
  if (delimiters.includes("-") && (lower.startsWith("owner-") || lower.endsWith("-request"))) return null;
  const at = [...local].findIndex((ch) => delimiters.includes(ch));
  if (at <= 0) return null;
  const chars = [...local];
  return { base: `${chars.slice(0, at).join("")}@${domainPart(address)}` as MailAddress, tag: chars.slice(at + 1).join("") };
}

/** The rows one RCPT may reach, lower case, in the order they are tried: exact, subaddress base, catch-all. */
export function recipientCandidates(address: string, delimiters: string): string[] {
  const split = splitSubaddress(address, delimiters);
  const all = [address, ...(split ? [split.base] : []), ...(BOUNCE_FORM.test(localOf(address)) ? [] : [catchAllOf(address)])];
  return [...new Set(all.map((a) => a.toLowerCase()))];
}

/**
 * The recipient `address` reaches, given the mailbox rows of its candidates (any case): the first row
 * that exists decides, enabled or not, in this order — the exact address, its subaddress base, a role
 * address (postmaster@, abuse@ and their subaddresses go to ADMIN_JIDS when their own row is absent or
 * disabled), the catch-all. A disabled row refuses (undefined is unknown: 550 5.1.1 either way). A
 * mailbox reached by another address than its own carries `addressedTo`: the address the sender used,
 * shown in the chat and kept for the reply's From.
 */
export function resolveRecipient(address: MailAddress, rows: readonly Mailbox[], rules: RecipientRules): Recipient | undefined {
  const row = (a: string) => rows.find((r) => r.address.toLowerCase() === a.toLowerCase());
  const split = splitSubaddress(address, rules.delimiters);
  const tagged = split && split.tag !== "" ? { addressedTo: address } : {};
  const exact = row(address);
  if (exact?.enabled) return exact;
  const base = split ? row(split.base) : undefined;
  if (!exact && base?.enabled) return { ...base, ...tagged };
  const role = roleRecipient(address, rules) ?? (split && !exact ? roleRecipient(split.base, rules) : undefined);
  if (role) return split && role.address !== address ? { ...role, ...tagged } : role;
  if (exact || base) return exact ?? base;
  if (BOUNCE_FORM.test(localOf(address))) return undefined;
  const any = row(catchAllOf(address));
  return any && (any.enabled ? { ...any, addressedTo: address } : any);
}

/**
 * What the chat shows of the address a mail was sent to, when it was not the mailbox's own: the tag of a
 * subaddress (`news` for `toto+news@` reaching `toto@`), the whole address for a catch-all. Null otherwise.
 */
export function addressTag(addressedTo: string | null | undefined, mailbox: string): string | null {
  if (!addressedTo || addressedTo.toLowerCase() === mailbox.toLowerCase()) return null;
  if (isCatchAll(mailbox)) return addressedTo;
  const base = [...localOf(mailbox)].length;
  const tag = [...localOf(addressedTo)].slice(base + 1).join("");
  return tag || null;
}
