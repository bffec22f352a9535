// The display name of an outgoing mail's From (RFC 5322 §3.4 display-name). A reader takes it for who
// wrote the mail, and many mail programs show only the name: a name that is, or looks like, an address
// (`"ceo@bank.example" <ceo@bank.example>`) would let a chat nick claim another sender. Such a name is
// dropped, never shown.
import { sanitizeLine } from "./sanitize.ts";

/** A display name is one line a person reads: at most this many characters. */
export const MAX_DISPLAY_NAME = 64;

/**
 * Characters that make a name read as an address or as header syntax, after NFKC folding (so fullwidth
 * ＠ U+FF20, small ﹫ U+FE6B, ＜ ＞ count as what they look like): `@`, the angle brackets of an
 * angle-addr (RFC 5322 §3.4), and `=?`, which begins an RFC 2047 encoded word a reader could decode twice.
 */
const ADDRESS_LIKE = /[@<>]|=\?/;

/** The name as it may appear, or null when it must not: empty, or address-like (see ADDRESS_LIKE). */
export function displayName(name: string | null | undefined): string | null {
  if (!name) return null;
  const line = sanitizeLine(name).slice(0, MAX_DISPLAY_NAME).trim();
  if (!line || ADDRESS_LIKE.test(line.normalize("NFKC"))) return null;
  return line;
}

/** The From name of a user's mail: their chat nick (XEP-0172) when it may appear, else the mailbox's. */
export function senderName(nick: string | null | undefined, mailboxName: string | null | undefined): string | null {
  return displayName(nick) ?? displayName(mailboxName);
}
