// What a mail's web page shows, from what intake stored: the header fields,
// the attachment list and the MIME structure (mail/mime-parts.ts). The text and HTML parts are read from
// their byte ranges and decoded here, in the page pool (page-pool.ts): they are the mail's own bytes.
import { TextDecoder } from "node:util";
import { neutraliseText, sanitizeText } from "../core/sanitize.ts";
import type { MimePart } from "../mail/mime-parts.ts";
import { decodeTransfer } from "../mail/transfer-decoding.ts";

export interface MailAttachment {
  filename: string | null;
  contentType: string;
  size: number;
  /** Content-ID without angle brackets (RFC 2392: what a `cid:` URL names) */
  cid: string | null;
}

export interface MailView {
  subject: string;
  from: string;
  to: string;
  cc: string;
  /** the Date: field as written */
  date: string;
  /** the spam filter's verdict in words (core/spam-policy.ts describeVerdict) */
  spam?: string;
  text: string;
  /** the HTML part, NOT sanitised: page.ts does that */
  html: string;
  /** by index in `messages.attachments`: the index in attachment URLs (core/links.ts) */
  attachments: MailAttachment[];
  /** said above the text, when the page is not the mail as it came (page.ts) */
  note?: string;
}

/** What the page pool is sent to build one page: stored fields, and the text parts' bodies as stored. */
export interface PageSource {
  token: string;
  view: Omit<MailView, "text" | "html">;
  texts: { part: Pick<MimePart, "contentType" | "charset" | "encoding" | "flowed" | "delSp">; body: Uint8Array }[];
}

/** The page's text and HTML: each part's transfer encoding undone, its charset decoded. */
export function readMailView(source: PageSource): MailView {
  const plain: string[] = [];
  const html: string[] = [];
  for (const { part, body } of source.texts) {
    const decoded = charsetDecode(decodeTransfer(Buffer.from(body.buffer, body.byteOffset, body.byteLength), part.encoding), part.charset);
    if (part.contentType === "text/html") html.push(decoded);
    else plain.push(part.flowed ? unflow(decoded.replace(/\r?\n/g, "\n"), part.delSp ?? false) : decoded.replace(/\r?\n/g, "\n"));
  }
  return { ...source.view, text: neutraliseText(plain.join("\n")), html: sanitizeText(html.join("\n")) };
}

/** A charset the WHATWG Encoding Standard knows (ISO-2022-JP, KOI8-R, windows-125x…), else UTF-8;
 * undecodable bytes become U+FFFD. */
function charsetDecode(bytes: Buffer, charset: string | null): string {
  try {
    return new TextDecoder(charset ?? "utf-8").decode(bytes);
  } catch {
    return new TextDecoder("utf-8").decode(bytes);
  }
}

/** RFC 3676 §4.2: a line ending in a space is soft and joins the next (§4.5: without that space when
 * DelSp=yes); a leading space was stuffed (§4.4) and goes; the signature line "-- " stays hard. */
function unflow(text: string, delSp: boolean): string {
  const out: string[] = [];
  let joined = "";
  for (const raw of text.split("\n")) {
    const line = raw.startsWith(" ") ? raw.slice(1) : raw;
    const soft = line.endsWith(" ") && line !== "-- ";
    joined += soft && delSp ? line.slice(0, -1) : line;
    if (!soft) {
      out.push(joined);
      joined = "";
    }
  }
  if (joined) out.push(joined);
  return out.join("\n");
}
