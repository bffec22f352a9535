// RFC 5322 / MIME parsing with mailparser. Never throws on content: undecodable bytes become U+FFFD.
import { convert } from "html-to-text";
import { simpleParser, type AddressObject } from "mailparser";
import { sanitizeLine, sanitizeText } from "../core/sanitize.ts";
import type { ParsedMail } from "../core/types.ts";

export class ParseTimeoutError extends Error {
  override name = "ParseTimeoutError";
}

/** html-to-text for HTML-only mail: links kept once, images and tracking pixels dropped, no shouting headings. */
export function htmlToText(html: string): string {
  return convert(html, {
    wordwrap: false,
    selectors: [
      { selector: "img", format: "skip" },
      { selector: "a", options: { hideLinkHrefIfSameAsText: true, ignoreHref: false } },
      ...["h1", "h2", "h3", "h4", "h5", "h6"].map((selector) => ({ selector, options: { uppercase: false } })),
      { selector: "table", format: "dataTable" },
    ],
  });
}

/**
 * Parse a raw mail. A parser that runs past `timeoutMs` raises ParseTimeoutError (the caller answers 451:
 * transient, the sender retries). Content errors never raise: the result says what could be read.
 */
export async function parseMail(raw: Buffer, timeoutMs = 10_000): Promise<ParsedMail> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new ParseTimeoutError(`mail parsing took longer than ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    const mail = await Promise.race([
      simpleParser(raw, { skipHtmlToText: true, skipTextToHtml: true, skipImageLinks: true, skipTextLinks: true }),
      timeout,
    ]);
    const from = firstAddress(mail.from);
    const html = typeof mail.html === "string" ? mail.html : "";
    const plain = mail.text ?? "";
    const fromHtml = plain.trim() === "" && html !== "";
    return {
      subject: sanitizeLine(mail.subject ?? ""),
      fromAddress: from?.address ? sanitizeLine(from.address) : null,
      fromName: from?.name ? sanitizeLine(from.name) : null,
      messageId: mail.messageId ? sanitizeLine(mail.messageId) : null,
      references: (Array.isArray(mail.references) ? mail.references : mail.references ? [mail.references] : [])
        .map((r) => sanitizeLine(r).replace(/^<|>$/g, "")).filter(Boolean).slice(-20),
      date: headerDate(mail.headerLines),
      text: sanitizeText(fromHtml ? htmlToText(html) : plain),
      fromHtml,
      attachments: mail.attachments.map((a) => ({
        filename: a.filename ? sanitizeLine(a.filename) : null,
        contentType: sanitizeLine(a.contentType || "application/octet-stream"),
        size: a.size ?? a.content.length,
      })),
    };
  } catch (err) {
    if (err instanceof ParseTimeoutError) throw err;
    // mailparser gave up on broken MIME: keep what a person can still read, the raw mail stays stored.
    return unreadable(raw, err as Error);
  } finally {
    clearTimeout(timer);
  }
}

/** mailparser replaces an unreadable Date: with the time of parsing; read the header ourselves
 * so that a missing or broken date stays null (RFC 5322 §3.6.1 makes it mandatory, mail lacks it anyway). */
function headerDate(lines: ReadonlyArray<{ key: string; line: string }>): Date | null {
  const line = lines.find((h) => h.key === "date")?.line;
  if (!line) return null;
  const date = new Date(line.slice(line.indexOf(":") + 1).trim().replace(/\s*\([^)]*\)\s*$/, ""));
  return Number.isNaN(date.getTime()) ? null : date;
}

function firstAddress(from: AddressObject | AddressObject[] | undefined) {
  const list = Array.isArray(from) ? from : from ? [from] : [];
  return list.flatMap((a) => a.value).find((a) => a.address);
}

function unreadable(raw: Buffer, err: Error): ParsedMail {
  const head = raw.subarray(0, 64 * 1024).toString("latin1");
  const subject = /^subject:[ \t]*(.*)$/im.exec(head)?.[1] ?? "";
  return {
    subject: sanitizeLine(subject),
    fromAddress: null,
    fromName: null,
    messageId: null,
    date: null,
    text: `[this mail could not be decoded (${sanitizeLine(err.message)}); the original is kept by the gateway]`,
    fromHtml: false,
    attachments: [],
  };
}
