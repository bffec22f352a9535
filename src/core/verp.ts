// Per-message bounce addresses (VERP): the envelope sender of each outgoing mail names that mail, so a
// delivery status notification sent back to it (RFC 5321 §4.5.5, RFC 3464) says which chat message failed.
import { domainOf } from "./addresses.ts";
import type { MailAddress } from "./types.ts";

const PREFIX = "bounces+";
// The message token: 16 characters of newToken()'s alphabet (80 random bits, not guessable).
const TOKEN = /^bounces\+([0-9a-hjkmnp-tv-z]{16})$/i;

/** `bounces+<token>@<domain of the sending mailbox>`. */
export function bounceAddress(token: string, mailbox: MailAddress): MailAddress {
  return `${PREFIX}${token}@${domainOf(mailbox)}` as MailAddress;
}

/** The token of a bounce address, or null when the address is not one. */
export function readBounceAddress(address: MailAddress): string | null {
  const local = address.slice(0, address.lastIndexOf("@"));
  return TOKEN.exec(local)?.[1]?.toLowerCase() ?? null;
}
