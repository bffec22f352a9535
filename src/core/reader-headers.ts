// The "show headers" setting (docs/design.md §What the chat shows): the header fields a person reads in a mail
// program, From, To, Cc, Date and Subject (RFC 5322 §3.6.2, §3.6.3, §3.6.1, §3.6.5), decoded as the parse
// stored them, never the trace and MIME fields (Received:, Message-ID:, Content-Type:) a program reads. Pure.
import { sanitizeLine, truncateUtf8 } from "./sanitize.ts";

export interface HeaderView {
  subject: string;
  /** as the one parse stored them (messages.parts: from, to, cc, date); absent when it could not finish */
  from?: string; to?: string; cc?: string; date?: string;
  /** the columns every stored mail has, for a mail without a stored structure */
  fromName: string | null; fromAddress: string | null; sentAt: Date | null;
}

/** One field is at most this long in the chat: a 1,000-address Cc is a list no one reads in a bubble. */
const FIELD_BYTES = 1024;

/** "From: …" to "Subject: …", one line each, empty fields left out; at most `maxBytes` in all. */
export function readerHeaders(view: HeaderView, maxBytes: number): string | null {
  const from = view.from || (view.fromAddress ? (view.fromName ? `${view.fromName} <${view.fromAddress}>` : view.fromAddress) : "");
  const date = view.date?.trim() || (view.sentAt ? view.sentAt.toUTCString().replace("GMT", "+0000") : "");
  const fields: [string, string | undefined][] = [["From", from], ["To", view.to], ["Cc", view.cc], ["Date", date], ["Subject", view.subject]];
  const lines = fields.map(([name, value]) => [name, sanitizeLine((value ?? "").slice(0, 2 * FIELD_BYTES)).trim()] as const).filter(([, value]) => value)
    .map(([name, value]) => `${name}: ${truncateUtf8(value, FIELD_BYTES).text}`);
  return lines.length ? truncateUtf8(lines.join("\n"), maxBytes).text : null;
}
