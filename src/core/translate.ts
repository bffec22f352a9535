// Mail → chat translation: pure, no I/O (design: Messages to XMPP).
import { sanitizeLine, sanitizeText, truncateUtf8 } from "./sanitize.ts";
import type { ChatMessage, ParsedMail } from "./types.ts";

export interface MailToChatInput {
  mail: ParsedMail;
  /** stable stanza id of this delivery */
  id: string;
  fromJid: string;
  toJid: string;
  /** when the gateway accepted the mail; becomes a XEP-0203 delay when delivery is late */
  acceptedAt: Date;
  now: Date;
  /** upper bound for the body in UTF-8 bytes, kept well below the server's stanza limit */
  maxBodyBytes: number;
}

/** Delivery later than this after acceptance carries a XEP-0203 <delay/>. */
const LATE_MS = 60_000;
/** Bytes kept free for the "[… N more not shown]" line. */
const NOTICE_ROOM = 40;
/** One-line fields (subject, nick) and each attachment's name and type: mail headers may be up to 1 MiB
 * (mailparser's limit), a stanza only 512 KiB (Prosody's component_stanza_size_limit, invariant 3). */
const LINE_BYTES = 1024;
const FIELD_BYTES = 255;

export function mailToChat(input: MailToChatInput): ChatMessage {
  const { mail } = input;
  const subject = truncateUtf8(sanitizeLine(mail.subject) || "(no subject)", LINE_BYTES).text;
  const attachments = mail.attachments.slice(0, 50)
    .map((a) => `[attachment not forwarded: ${describeAttachment(a)}]`).join("\n");
  // The subject and the attachment list always show; the text gets what is left of the budget,
  // keeping room for the notice so the whole body stays within maxBodyBytes.
  const fixed = Buffer.byteLength(subject) + 2 + (attachments ? Buffer.byteLength(attachments) + 2 : 0);
  const text = normaliseText(sanitizeText(mail.text));
  const room = Math.max(0, input.maxBodyBytes - fixed);
  const { text: kept, omittedBytes } = Buffer.byteLength(text) <= room
    ? { text, omittedBytes: 0 } : truncateUtf8(text, Math.max(0, room - NOTICE_ROOM));
  const notice = `[… ${formatSize(omittedBytes)} more not shown]`;
  const shown = omittedBytes === 0 ? kept : kept ? `${kept}\n\n${notice}` : notice;
  const full = [subject, shown, attachments].filter(Boolean).join("\n\n");
  // The subject and attachments alone can exceed a small budget: the bound holds for the whole body.
  const body = Buffer.byteLength(full) <= input.maxBodyBytes ? full : truncateUtf8(full, input.maxBodyBytes).text;
  const late = input.now.getTime() - input.acceptedAt.getTime() > LATE_MS;
  return {
    id: input.id,
    from: input.fromJid,
    to: input.toJid,
    body,
    nick: mail.fromName ? truncateUtf8(sanitizeLine(mail.fromName), LINE_BYTES).text || null : null,
    delay: late ? input.acceptedAt : null,
  };
}

/** CRLF and lone CR to LF, no trailing blank lines, at most two consecutive empty lines. */
function normaliseText(text: string): string {
  // Trailing blanks are cut with a loop, not /[ \t]+$/gm: that regex retries from every blank of a long run
  // that does not end the line (quadratic: 40,000 spaces and a letter took 6 s on the delivery loop).
  return text.replace(/\r\n?/g, "\n").split("\n").map(trimBlanksEnd).join("\n").replace(/\n{4,}/g, "\n\n\n").trim();
}

function trimBlanksEnd(line: string): string {
  let end = line.length;
  while (end > 0 && (line.charCodeAt(end - 1) === 0x20 || line.charCodeAt(end - 1) === 0x09)) end--;
  return end === line.length ? line : line.slice(0, end);
}

function describeAttachment(a: ParsedMail["attachments"][number]): string {
  const name = a.filename ? truncateUtf8(sanitizeLine(a.filename), FIELD_BYTES).text : "unnamed";
  // Invariant 3: every string reaching a stanza passes the sanitizer here, whatever the stored row holds.
  return `${name} (${truncateUtf8(sanitizeLine(a.contentType), FIELD_BYTES).text}, ${formatSize(a.size)})`;
}

export function formatSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} bytes`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}
