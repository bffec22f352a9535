// Branded types: an address or JID that has been validated cannot be confused with a plain string.
declare const brand: unique symbol;
export type Brand<T, B extends string> = T & { readonly [brand]: B };

/** An RFC 5321 mailbox `local@domain`, original case kept (RFC 5321 §2.4: local parts may be case-sensitive). */
export type MailAddress = Brand<string, "MailAddress">;
/** A bare JID `local@domain` (RFC 7622), no resource. */
export type BareJid = Brand<string, "BareJid">;

/** A mailbox row: the contract's `mailboxes` table in camelCase. */
export interface Mailbox {
  address: MailAddress;
  jid: BareJid;
  enabled: boolean;
}

/** The outgoing mail a VERP bounce address names (core/verp.ts): what a report about it refers to. */
export interface BounceTarget {
  /** the outbound delivery of that mail */
  deliveryId: number;
  /** the address it was sent to */
  correspondent: string;
  /** the user's full JID that sent it, and the id of their chat message */
  userJid: string;
  originStanzaId: string | null;
}

/** A recipient the SMTP listener accepted: a mailbox, or a bounce address standing for the mail it names
 * (then `address` and `jid` are the sending mailbox's), or a role address without a mailbox
 * (core/role-addresses.ts: `admins`, one delivery each; none: kept with a failed delivery). */
export interface Recipient extends Mailbox {
  bounceOf?: BounceTarget; admins?: BareJid[];
  /** the address the sender used when the mailbox was reached by another one: a subaddress or an
   * address a catch-all took (core/recipients.ts) */
  addressedTo?: MailAddress;
  /** a conference room's address (`rooms`): `jid` is the room's */
  room?: boolean;
  /** envelope senders this mailbox's user blocked, as core/sender-hash.ts (refused at RCPT, docs/design.md §Spam) */
  blocked?: Float64Array;
  /** hold mail rspamd marks as spam instead of delivering it (the user releases it) */
  holdSpam?: boolean;
}

/** What the content filter said of a mail (docs/design.md §Spam): rspamd's action, score and symbols,
 * or why it was not asked (`unfiltered`: unreachable, timed out, or past its budget). */
export interface SpamVerdict {
  action: string | null;
  score: number | null;
  required: number | null;
  symbols: string[];
  unfiltered?: string;
}

/** What the parser extracted from a mail; everything already free of NUL and XML-forbidden characters. */
export interface ParsedMail {
  subject: string;
  fromAddress: string | null;
  fromName: string | null;
  messageId: string | null;
  /** RFC 5322 §3.6.4 References (message ids without angle brackets) */
  references?: string[];
  date: Date | null;
  text: string;
  /** true when the text was derived from HTML because the mail had no text/plain part */
  fromHtml: boolean;
  /** `related`: part of a multipart/related HTML mail (an inline image), shown on the web page only */
  attachments: { filename: string | null; contentType: string; size: number; related?: boolean }[];
  /** Automatic mail (RFC 3834 Auto-Submitted other than "no", Precedence bulk/list/junk, a delivery or
   * disposition report, list mail): nothing automatic may ever answer it. Absent means false. */
  automatic?: boolean;
  /** RFC 2919 List-Id identifier (the part in angle brackets), when the mail came through a list */
  listId?: string | null;
  /** the sender authentication verdict (SPF/DKIM/DMARC); absent when not checked */
  authentication?: { verified: boolean; warning: string | null } | null;
  /** the content filter's verdict; absent or null when none is configured */
  spam?: SpamVerdict | null;
}

/** A chat message ready to become a stanza: pure data, no XML. */
export interface ChatMessage {
  id: string;
  from: string;
  to: string;
  body: string;
  nick: string | null;
  /** XEP-0203 delay stamp when the mail is delivered late */
  delay: Date | null;
  /** attachments sent after it, one message each (XEP-0066 out-of-band URL) */
  files?: ChatFile[];
  /** posted in the conference room `to` by the occupant standing for `from` (docs/design.md §Rooms with an address) */
  room?: boolean;
}

/** One attachment as its own chat message: the URL is the body and the XEP-0066 <x xmlns="jabber:x:oob">. */
export interface ChatFile { id: string; url: string; name: string }

/** Outgoing mail a mailbox may send per minute and per day; 0 = no limit. */
export interface SendLimit { perMinute: number; perDay: number }

/** One delivery row to write with an accepted mail (queue/reports.ts plans them). */
export interface PlannedDelivery {
  kind: "mail" | "report" | "room";
  /** the mailbox for mail; the correspondent of the failed outgoing mail for a report */
  recipient: string;
  jid: string;
  originStanzaId: string | null;
  /** the address the sender used, when not the mailbox's own (Recipient.addressedTo) */
  addressedTo?: string | null;
  /** stored as failed at once, with this reason (a role address with no one to read it) */
  failed?: string;
  /** stored as held: spam for a mailbox that holds it, delivered when its user releases it */
  held?: boolean;
}

/** A XEP-0004 data form as plain data: what a command asks for or shows. */
export interface Form {
  title: string;
  instructions?: string;
  fields: FormField[];
}

export interface FormField {
  var: string;
  type: "text-single" | "text-multi" | "boolean" | "list-single" | "jid-single" | "fixed" | "hidden";
  label?: string;
  /** one value per line for text-multi */
  value?: string;
  required?: boolean;
  options?: { label: string; value: string }[];
}

/** Rows for a result form: XEP-0004 §3.4 reported fields and items. */
export interface Table { title: string; columns: { var: string; label: string }[]; rows: Record<string, string>[] }

/** The mail a reply answers: enough to thread it (RFC 5322 §3.6.4). */
export interface ThreadParent {
  mailbox: string; subject: string; messageId: string | null; references: string[];
  /** the From address of that mail, in its original case, and the name it gave */
  correspondent: string | null;
  /** the address that mail was sent to when it reached the mailbox by another (core/recipients.ts): the reply's From */
  addressedTo?: string | null;
  correspondentName?: string | null;
  /** its To and Cc as the parse stored them (messages.parts, core/reply-all.ts reads them); "" when unknown */
  to?: string;
  cc?: string;
}

/** An outgoing mail to queue: its rendered bytes and what its delivery needs. */
export interface QueuedMail {
  /** the message token, also the local part of its Message-ID: public */
  token: string;
  mailbox: string;
  /** the envelope sender: the mail's own bounce address (core/verp.ts), named by `bounceSecret` */
  mailFrom: string;
  /** the secret a delivery report must name (core/verp.ts); in no header of the mail */
  bounceSecret: string;
  to: string;
  /** the reply's Cc (core/reply-all.ts): one outbound delivery each, with a bounce address of its own */
  copies?: { to: string; mailFrom: string; bounceSecret: string }[];
  subject: string;
  body: string;
  messageId: string;
  raw: Buffer;
  jid: string;
  originStanzaId: string | null;
  receiptRequested: boolean;
}
