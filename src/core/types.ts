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
  attachments: { filename: string | null; contentType: string; size: number }[];
  /** Automatic mail (RFC 3834 Auto-Submitted other than "no", Precedence bulk/list/junk, a delivery or
   * disposition report, list mail): nothing automatic may ever answer it. Absent means false. */
  automatic?: boolean;
  /** RFC 2919 List-Id identifier (the part in angle brackets), when the mail came through a list */
  listId?: string | null;
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
}
