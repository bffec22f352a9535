// Who a reply goes to, as a mail program's "reply all" (RFC 5322 §3.6.3): to the correspondent the user
// answers, with a copy to everyone else the answered mail was addressed to (its From, To and Cc), less the
// user's own addresses; each once, bounded in number and length. Pure: the lists are the ones the one parse
// stored (messages.parts `to`/`cc`, mailparser's decoded form `"Name" <address>, address`), never the mail.
import { parseMailAddress } from "./addresses.ts";
import { displayName } from "./display-name.ts";
import type { MailAddress } from "./types.ts";

export interface NamedAddress { address: MailAddress; name: string | null }

/** A reply copies at most this many others: a mail to a thousand people is not answered to a thousand. */
export const MAX_CC = 20;
/** An address that cannot fit a folded header line with its comma (RFC 5322 §2.1.1: 78) is left out. */
const MAX_ADDRESS = 72;
/** A stored list is read this far: MAX_CC entries of the longest kind are far shorter. */
const MAX_LIST_CHARS = 16 * 1024;

/**
 * The entries of an address list, in order: `"Name" <address>`, `Name <address>`, `<address>`, `address`, and
 * the members of a group (`Team: a@x, b@y;`). Entries without a valid address are skipped. Linear in the text.
 */
export function parseAddressList(text: string, max = MAX_CC * 4): NamedAddress[] {
  const out: NamedAddress[] = [];
  let name = "";
  let angle: string | null = null;
  let quoted = false;
  let inAngle = false;
  const end = () => {
    const bare = (angle ?? name).trim();
    const address = bare.length <= MAX_ADDRESS ? parseMailAddress(bare) : null;
    if (address) out.push({ address, name: angle === null ? null : displayName(name.replace(/\s+/g, " ").trim()) });
    name = "";
    angle = null;
  };
  const input = text.slice(0, MAX_LIST_CHARS);
  for (let i = 0; i < input.length && out.length < max; i++) {
    const c = input[i]!;
    if (quoted) {
      if (c === "\\" && i + 1 < input.length) name += input[++i];
      else if (c === '"') quoted = false;
      else name += c;
    } else if (inAngle) {
      if (c === ">") inAngle = false;
      else angle += c;
    } else if (c === '"') quoted = true;
    else if (c === "<") { inAngle = true; angle = ""; }
    else if (c === ":") name = ""; // a group's name ends: its members follow (RFC 5322 §3.4)
    else if (c === "," || c === ";") end();
    else name += c;
  }
  if (out.length < max) end();
  return out;
}

export interface ReplyInput {
  /** the correspondent the user answers (the contact's address) */
  to: MailAddress;
  /** the answered mail's From (address and name) and its To and Cc as stored; absent for a new mail */
  parent?: { from: string | null; fromName: string | null; to: string; cc: string } | null;
  /** every address of the user's own mailboxes: never copied */
  own: readonly string[];
}

/** The reply's To (with the name the answered mail gave it) and its Cc. */
export function replyRecipients(input: ReplyInput): { to: NamedAddress; cc: NamedAddress[] } {
  const key = (a: string) => a.toLowerCase();
  const parent = input.parent;
  const from = parent?.from ? parseMailAddress(parent.from) : null;
  const others = parent ? [...(from ? [{ address: from, name: displayName(parent.fromName) }] : []),
    ...parseAddressList(parent.to), ...parseAddressList(parent.cc)] : [];
  const toName = others.find((o) => key(o.address) === key(input.to))?.name ?? null;
  const seen = new Set([key(input.to), ...input.own.map(key)]);
  const cc: NamedAddress[] = [];
  for (const o of others) {
    if (cc.length >= MAX_CC) break;
    if (seen.has(key(o.address))) continue;
    seen.add(key(o.address));
    cc.push(o);
  }
  return { to: { address: input.to, name: toName }, cc };
}
