// Per-message bounce addresses (VERP): the envelope sender of each outgoing mail names that mail, so a
// delivery status notification sent back to it (RFC 5321 §4.5.5, RFC 3464) says which chat message failed.
// The name is the delivery's bounce secret (store/messages.ts newSecret), never its Message-ID or any
// other header: only the servers the mail passed through learn it (docs/design.md §Who speaks for a delivery).
import { domainOf } from "./addresses.ts";
import type { MailAddress } from "./types.ts";

const PREFIX = "bounces+";
// 26 characters of newSecret()'s alphabet (130 random bits): older, shorter forms name nothing.
const SECRET = /^bounces\+([0-9a-hjkmnp-tv-z]{26})$/i;

/** `bounces+<secret>@<domain of the sending mailbox>`. */
export function bounceAddress(secret: string, mailbox: MailAddress): MailAddress {
  return `${PREFIX}${secret}@${domainOf(mailbox)}` as MailAddress;
}

/** The secret of a bounce address, or null when the address is not one. */
export function readBounceAddress(address: MailAddress): string | null {
  const local = address.slice(0, address.lastIndexOf("@"));
  return SECRET.exec(local)?.[1]?.toLowerCase() ?? null;
}
