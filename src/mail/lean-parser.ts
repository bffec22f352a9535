// mailparser's simpleParser, keeping in memory only what the chat needs: every attachment is read to
// count its size, but its bytes are kept only when `keep` says so (calendar invitations, forwarded
// messages). A 25 MiB attachment then costs a stream's buffer, not 25 MiB plus a base64 copy in the HTML.
// The mail is streamed in (never copied whole) and, when long, its text parts are cut first (long-text.ts).
import { once } from "node:events";
import type { Writable } from "node:stream";
import { MailParser, type AttachmentStream, type MessageText, type ParsedMail as MailparserMail } from "mailparser";
import { createTextCutter } from "./long-text.ts";
import type { PartRecorder } from "./mime-parts.ts";

export interface LeanAttachment {
  filename?: string;
  contentType: string;
  size: number;
  related?: boolean;
  /** mailparser's part number (RFC 3501 §6.4.5), none for a single-part mail */
  partId?: string;
  /** Content-ID without angle brackets */
  cid?: string;
  /** the bytes when `keep` wanted them, else empty */
  content: Buffer;
}

export type LeanMail = Omit<MailparserMail, "attachments"> & {
  attachments: LeanAttachment[];
  /** bytes of text parts left unread (`cutTextAfter`), 0 when the text is whole */
  textCutBytes: number;
};

const HEADER_FIELDS = ["subject", "references", "date", "to", "from", "cc", "bcc", "message-id", "in-reply-to", "reply-to"];

/** The mail is written to the parser in slices of this size, each copied and waiting for the parser. */
const SLICE_BYTES = 64 * 1024;

/** `pieces`: the mail's bytes in order (header lines repaired apart from the body, header-bytes.ts);
 * `recorder`: sees the same split the parser reads (mime-parts.ts). */
export function leanParse(pieces: Buffer[], options: ConstructorParameters<typeof MailParser>[0],
  keep: (a: { contentType: string; filename?: string }) => boolean, cutTextAfter = Infinity,
  recorder?: PartRecorder): Promise<LeanMail> {
  return new Promise((resolve, reject) => {
    const mail: Record<string, unknown> & { attachments: LeanAttachment[] } = { attachments: [] };
    // keepCidLinks: no data: URI with every inline image's base64 in the HTML (only its text is used).
    const parser = new MailParser({ ...options, keepCidLinks: true } as ConstructorParameters<typeof MailParser>[0]);
    let settled = false;
    const fail = (err: Error) => {
      if (!settled) { settled = true; reject(err); }
    };
    parser.on("error", fail);
    // Only a mail longer than the bound can have a text part longer than it: others go straight in.
    const size = pieces.reduce((n, p) => n + p.length, 0);
    const cutter = size > cutTextAfter || recorder
      ? createTextCutter(size > cutTextAfter ? cutTextAfter : Infinity, recorder && ((c) => recorder.observe(c))) : null;
    if (cutter) {
      cutter.input.on("error", fail);
      cutter.output.on("error", fail);
      cutter.output.pipe(parser);
    }
    // Both are emitted once, for the top-level part, before any content.
    parser.on("headers", (headers) => {
      mail.headers = headers;
    });
    parser.on("headerLines", (lines) => {
      mail.headerLines = lines;
    });
    let reading = false;
    const reader = (): void => {
      reading = true;
      const data = parser.read() as (AttachmentStream | MessageText) | null;
      if (data === null) {
        reading = false;
        return;
      }
      if (data.type === "text") {
        for (const key of ["text", "html", "textAsHtml"] as const) if (key in data) mail[key] = data[key];
        return reader();
      }
      const stream = data.content;
      const wanted = keep(data);
      const chunks: Buffer[] = [];
      let size = 0;
      stream.on("readable", () => {
        for (let chunk = stream.read() as Buffer | null; chunk !== null; chunk = stream.read() as Buffer | null) {
          size += chunk.length;
          if (wanted) chunks.push(chunk);
        }
      });
      stream.on("end", () => {
        mail.attachments.push({
          ...(data.filename ? { filename: data.filename } : {}), contentType: data.contentType, size,
          ...(data.related ? { related: true } : {}), ...(data.partId ? { partId: data.partId } : {}),
          ...(data.cid ? { cid: data.cid } : {}), content: wanted ? Buffer.concat(chunks, size) : Buffer.alloc(0),
        });
        data.release?.();
        reader();
      });
    };
    parser.on("readable", () => {
      if (!reading) reader();
    });
    parser.on("end", () => {
      const headers = mail.headers as Map<string, unknown> | undefined;
      for (const key of HEADER_FIELDS) {
        if (headers?.has(key)) mail[key.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase())] = headers.get(key);
      }
      mail.textCutBytes = cutter?.cutBytes() ?? 0;
      if (!settled) { settled = true; resolve(mail as unknown as LeanMail); }
    });
    feed(cutter?.input ?? parser, pieces).catch(fail);
  });
}

/**
 * Streamed rather than written whole: the parser holds a slice at a time, not a second copy of a large
 * mail, and keeps no reference into the caller's buffer (shared with the gateway's main thread for a
 * large mail, raw-buffer.ts).
 */
async function feed(into: Writable, pieces: Buffer[]): Promise<void> {
  for (const piece of pieces) {
    for (let at = 0; at < piece.length; at += SLICE_BYTES) {
      if (!into.write(Buffer.from(piece.subarray(at, at + SLICE_BYTES)))) await once(into, "drain");
    }
  }
  into.end();
}
