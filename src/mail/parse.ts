// RFC 5322 / MIME parsing with mailparser. Never throws on content: undecodable bytes become U+FFFD.
import { convert } from "html-to-text";
import type { AddressObject } from "mailparser";
import type { AttachmentPolicy } from "../core/attachments.ts";
import { sanitizeLine, sanitizeText, truncateUtf8 } from "../core/sanitize.ts";
import type { ParsedMail } from "../core/types.ts";
import { classifyHeaders } from "./automatic.ts";
import { summariseCalendar } from "./calendar.ts";
import { deliveryReportOf, type DeliveryReport } from "./dsn.ts";
import { leanParse, type LeanMail } from "./lean-parser.ts";
import { repairHeaderPieces } from "./header-bytes.ts";
import { createPartRecorder, MAX_PARTS, overlayAttachments, type MailStructure } from "./mime-parts.ts";
import { unreadMail } from "./unread.ts";

export class ParseTimeoutError extends Error {
  override name = "ParseTimeoutError";
}

/** html-to-text for HTML-only mail: links kept once as "text [url]", images and tracking pixels dropped,
 * tables as aligned rows, blockquotes as "> " lines, no shouting headings or header cells (html-to-text
 * upper-cases both by default: that is markup the text did not have). */
export function htmlToText(html: string): string {
  return convert(html, {
    wordwrap: false,
    selectors: [
      { selector: "img", format: "skip" },
      { selector: "a", options: { hideLinkHrefIfSameAsText: true, ignoreHref: false } },
      ...["h1", "h2", "h3", "h4", "h5", "h6"].map((selector) => ({ selector, options: { uppercase: false } })),
      // Data tables as aligned rows, never wrapped (chat clients wrap); layout tables (newsletters mark
      // them role="presentation", WAI-ARIA §5.3) are plain blocks, or their cells would be wrapped at 60.
      { selector: "table", format: "dataTable", options: { uppercaseHeaderCells: false, maxColumnWidth: 100_000 } },
      { selector: "table[role=presentation]", format: "block" },
      { selector: "table[role=none]", format: "block" },
    ],
  });
}

/** How deep forwarded messages (message/rfc822 parts) are read into the text, and how many. */
const FORWARD_DEPTH = 2;
const FORWARD_MAX = 3;
const PARSER_OPTIONS = { skipHtmlToText: true, skipTextToHtml: true, skipImageLinks: true, skipTextLinks: true } as const;

/** What one parse of a mail yields (docs/design.md §Parsing once): the chat's view of it, its MIME
 * structure with byte ranges (null when unread), and its RFC 3464 report when it is a delivery report. */
export interface MailRead {
  mail: ParsedMail;
  structure: MailStructure | null;
  report: DeliveryReport | null;
}

/**
 * Parse a raw mail. A parser that runs past `timeoutMs` raises ParseTimeoutError (the caller answers 451:
 * transient, the sender retries). Content errors never raise: the result says what could be read.
 */
export async function parseMail(raw: Buffer, timeoutMs = 10_000): Promise<ParsedMail> {
  return (await readMail(raw, { timeoutMs })).mail;
}

/** parseMail with the structure and the report; `policy` gives each attachment its verdict. */
export async function readMail(raw: Buffer, options: { timeoutMs?: number; policy?: AttachmentPolicy } = {}): Promise<MailRead> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new ParseTimeoutError(`mail parsing took longer than ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    return await Promise.race([readTop(raw, options.policy), timeout]);
  } catch (err) {
    if (err instanceof ParseTimeoutError) throw err;
    // mailparser gave up on broken MIME: keep what a person can still read, the raw mail stays stored.
    return { mail: unreadable(raw, err as Error), structure: null, report: null };
  } finally {
    clearTimeout(timer);
  }
}

async function readTop(raw: Buffer, policy: AttachmentPolicy | undefined): Promise<MailRead> {
  const pieces = repairHeaderPieces(raw);
  const given = pieces.reduce((n, p) => n + p.length, 0);
  const recorder = createPartRecorder(given - raw.length);
  const { parsed, lean } = await read(pieces, 0, recorder);
  const split = recorder.finish(given);
  const structure = split && {
    type: sanitizeLine(split.type), reportType: split.reportType && sanitizeLine(split.reportType),
    parts: overlayAttachments(split.leaves, lean.attachments, parsed.attachments, policy), omitted: split.omitted,
    from: addresses(lean.from), to: addresses(lean.to), cc: addresses(lean.cc),
    date: sanitizeLine(headerLine(lean.headerLines, "date") ?? ""),
  };
  return { mail: parsed, structure, report: structure ? deliveryReportOf(structure, raw) : null };
}

async function read(source: Buffer | Buffer[], depth: number, recorder?: ReturnType<typeof createPartRecorder>)
  : Promise<{ parsed: ParsedMail; lean: LeanMail }> {
  // Attachment bytes are kept only where the text needs them (invitations, forwarded mail).
  const mail = await leanParse(Array.isArray(source) ? source : repairHeaderPieces(source), PARSER_OPTIONS,
    (a) => isCalendar(a) || a.contentType.toLowerCase() === "message/rfc822", TEXT_PART_MAX_BYTES, recorder);
  const from = firstAddress(mail.from);
  const html = typeof mail.html === "string" ? mail.html : "";
  const plain = mail.text ?? "";
  const fromHtml = plain.trim() === "" && html !== "";
  const report = (mail.headers.get("content-type") as { value?: string } | undefined)?.value?.toLowerCase() === "multipart/report";
  const calendars = mail.attachments.filter(isCalendar).slice(0, 2)
    .map((a) => summariseCalendar(a.content.toString("utf8"))).filter((s): s is string => s !== null);
  // A forwarded mail is read into the text; a report's returned message (RFC 6522 §3) is not: it is
  // the sender's own mail, the report's text says what happened to it.
  const forwarded = report || depth >= FORWARD_DEPTH ? [] : await Promise.all(mail.attachments
    .filter((a) => a.contentType.toLowerCase() === "message/rfc822").slice(0, FORWARD_MAX)
    .map((a) => read(a.content, depth + 1).then((r) => forwardedText(r.parsed), () => "")));
  const body = fromHtml ? htmlToText(html) : plain;
  // The same invitation often comes twice (text/calendar alternative and invite.ics): show it once.
  const extras = calendars.length + forwarded.length > 0;
  const text = !extras ? body : [...new Set(calendars), body, ...forwarded].map((s) => s.trim()).filter(Boolean).join("\n\n");
  const parsed: ParsedMail = {
    subject: sanitizeLine(mail.subject ?? ""),
    fromAddress: from?.address ? sanitizeLine(from.address) : null,
    fromName: from?.name ? sanitizeLine(from.name) : null,
    messageId: mail.messageId ? sanitizeLine(mail.messageId) : null,
    references: (Array.isArray(mail.references) ? mail.references : mail.references ? [mail.references] : [])
      .map((r) => sanitizeLine(r).replace(/^<|>$/g, "")).filter(Boolean).slice(-20),
    date: headerDate(mail.headerLines),
    text: boundedText(sanitizeText(text), mail.textCutBytes),
    fromHtml,
    // As many as the structure lists parts (mime-parts.ts MAX_PARTS): a bomb's thousand stay in the raw mail.
    attachments: mail.attachments.slice(0, MAX_PARTS).map((a) => ({
      filename: a.filename ? sanitizeLine(a.filename) : null,
      contentType: sanitizeLine(a.contentType || "application/octet-stream"),
      size: a.size ?? a.content.length,
      ...(a.related ? { related: true } : {}),
    })),
    ...classifyHeaders(mail.headerLines),
  };
  return { parsed, lean: mail };
}

/** The text kept for the chat (and `messages.body`): a chat shows at most CHAT_MAX_BYTES (≤ 256 KiB) of
 * it, so a 25 MiB text body is cut here, once, instead of being stored, loaded and translated whole at
 * every delivery. The whole mail stays in `messages.raw` and on the web page. */
const MAX_TEXT_BYTES = 1024 * 1024;

/** Each text part is read up to this many bytes as sent (long-text.ts): enough for MAX_TEXT_BYTES of
 * text in base64 or mostly-ASCII quoted-printable (and always more than the 256 KiB a chat shows), while
 * a parser thread needs a few times this, not a few times the mail. The bytes left unread (`unread`, an
 * estimate once decoded) count in the size given for the rest. */
const TEXT_PART_MAX_BYTES = 2 * 1024 * 1024;

function boundedText(text: string, unread: number): string {
  // At most 3 UTF-8 bytes per UTF-16 unit: shorter strings cannot be over the bound.
  if (unread === 0 && (text.length * 3 <= MAX_TEXT_BYTES || Buffer.byteLength(text) <= MAX_TEXT_BYTES)) return text;
  const { text: kept, omittedBytes } = truncateUtf8(text, MAX_TEXT_BYTES - 100);
  return `${kept}\n\n[… ${((omittedBytes + unread) / 1048576).toFixed(1)} MiB more of this text in the full mail]`;
}

/** RFC 5545 §8.1 registers text/calendar; application/ics and a .ics name are seen in the wild. */
function isCalendar(a: { contentType: string; filename?: string | null }): boolean {
  const type = a.contentType.toLowerCase();
  return type === "text/calendar" || type === "application/ics" || /\.ics$/i.test(a.filename ?? "");
}

/** A forwarded message as Gmail and Thunderbird show one inline. */
function forwardedText(inner: ParsedMail): string {
  const from = inner.fromAddress ? (inner.fromName ? `${inner.fromName} <${inner.fromAddress}>` : inner.fromAddress) : "";
  const head = [
    "---------- Forwarded message ----------",
    from && `From: ${from}`,
    inner.date && `Date: ${inner.date.toUTCString()}`,
    `Subject: ${inner.subject}`,
  ].filter(Boolean);
  return [head.join("\n"), inner.text.trim()].filter(Boolean).join("\n\n");
}

/** mailparser replaces an unreadable Date: with the time of parsing; read the header ourselves
 * so that a missing or broken date stays null (RFC 5322 §3.6.1 makes it mandatory, mail lacks it anyway). */
function headerDate(lines: ReadonlyArray<{ key: string; line: string }>): Date | null {
  const line = headerLine(lines, "date");
  if (!line) return null;
  const date = new Date(line.trim().replace(/\s*\([^)]*\)\s*$/, ""));
  return Number.isNaN(date.getTime()) ? null : date;
}

/** The value of the first `key` field as written (after its colon). */
function headerLine(lines: ReadonlyArray<{ key: string; line: string }>, key: string): string | null {
  const line = lines.find((h) => h.key === key)?.line;
  return line === undefined ? null : line.slice(line.indexOf(":") + 1);
}

/** An address field as a page shows it: `Name <address>, …` */
function addresses(field: AddressObject | AddressObject[] | undefined): string {
  if (!field) return "";
  return sanitizeLine((Array.isArray(field) ? field : [field]).map((f) => f.text).join(", "));
}

function firstAddress(from: AddressObject | AddressObject[] | undefined) {
  const list = Array.isArray(from) ? from : from ? [from] : [];
  return list.flatMap((a) => a.value).find((a) => a.address);
}

function unreadable(raw: Buffer, err: Error): ParsedMail {
  return unreadMail(raw, `[this mail could not be decoded (${sanitizeLine(err.message)}); the original is kept by the gateway]`);
}
