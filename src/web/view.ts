// A stored mail read again for its web page (issue #4, Full mail on the web): the raw bytes are parsed at
// request time with mailparser, as at acceptance; nothing is copied or stored for the page.
import { simpleParser, type AddressObject } from "mailparser";
import { neutraliseText, sanitizeLine, sanitizeText } from "../core/sanitize.ts";
import { repairHeaderBytes } from "../mail/header-bytes.ts";

export interface MailAttachment {
  filename: string | null;
  contentType: string;
  size: number;
  /** Content-ID without angle brackets (RFC 2392: what a `cid:` URL names) */
  cid: string | null;
  content: Buffer;
}

export interface MailView {
  subject: string;
  from: string;
  to: string;
  cc: string;
  /** the Date: field as written (mailparser would put the time of parsing in place of a broken one) */
  date: string;
  text: string;
  /** the HTML part, NOT sanitised: page.ts does that */
  html: string;
  /** in mailparser's order: the index is the one in attachment URLs (core/links.ts) */
  attachments: MailAttachment[];
}

// The same options as mail/parse.ts, so attachments come in the same order as `messages.attachments`;
// skipImageLinks keeps `cid:` URLs in the HTML (page.ts points them at our attachment URLs).
const PARSER_OPTIONS = { skipHtmlToText: true, skipTextToHtml: true, skipImageLinks: true, skipTextLinks: true } as const;

export class ViewTimeoutError extends Error {
  override name = "ViewTimeoutError";
}

export async function readMailView(raw: Buffer, timeoutMs = 10_000): Promise<MailView> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new ViewTimeoutError(`reading the mail took longer than ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    return await Promise.race([read(raw), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function read(raw: Buffer): Promise<MailView> {
  const mail = await simpleParser(repairHeaderBytes(raw), PARSER_OPTIONS);
  const dateLine = mail.headerLines.find((h) => h.key === "date")?.line ?? "";
  return {
    subject: sanitizeLine(mail.subject ?? ""),
    from: addresses(mail.from),
    to: addresses(mail.to),
    cc: addresses(mail.cc),
    date: sanitizeLine(dateLine.slice(dateLine.indexOf(":") + 1)),
    text: neutraliseText(mail.text ?? ""),
    html: typeof mail.html === "string" ? sanitizeText(mail.html) : "",
    attachments: mail.attachments.map((a) => ({
      filename: a.filename ? sanitizeLine(a.filename) : null,
      contentType: sanitizeLine(a.contentType || "application/octet-stream").toLowerCase(),
      size: a.content.length,
      cid: a.cid ? sanitizeLine(a.cid) : a.contentId ? sanitizeLine(a.contentId).replace(/^<|>$/g, "") : null,
      content: a.content,
    })),
  };
}

function addresses(field: AddressObject | AddressObject[] | undefined): string {
  if (!field) return "";
  return sanitizeLine((Array.isArray(field) ? field : [field]).map((f) => f.text).join(", "));
}
