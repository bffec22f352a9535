// mailparser's simpleParser, keeping in memory only what the chat needs: every attachment is read to
// count its size, but its bytes are kept only when `keep` says so (calendar invitations, forwarded
// messages). A 25 MiB attachment then costs a stream's buffer, not 25 MiB plus a base64 copy in the HTML.
import { MailParser, type AttachmentStream, type MessageText, type ParsedMail as MailparserMail } from "mailparser";

export interface LeanAttachment {
  filename?: string;
  contentType: string;
  size: number;
  related?: boolean;
  /** the bytes when `keep` wanted them, else empty */
  content: Buffer;
}

export type LeanMail = Omit<MailparserMail, "attachments"> & { attachments: LeanAttachment[] };

const HEADER_FIELDS = ["subject", "references", "date", "to", "from", "cc", "bcc", "message-id", "in-reply-to", "reply-to"];

export function leanParse(raw: Buffer, options: ConstructorParameters<typeof MailParser>[0],
  keep: (a: { contentType: string; filename?: string }) => boolean): Promise<LeanMail> {
  return new Promise((resolve, reject) => {
    const mail: Record<string, unknown> & { attachments: LeanAttachment[] } = { attachments: [] };
    // keepCidLinks: no data: URI with every inline image's base64 in the HTML (only its text is used).
    const parser = new MailParser({ ...options, keepCidLinks: true } as ConstructorParameters<typeof MailParser>[0]);
    let settled = false;
    const fail = (err: Error) => {
      if (!settled) { settled = true; reject(err); }
    };
    parser.on("error", fail);
    parser.on("headers", (headers) => {
      mail.headers = headers;
      mail.headerLines = (parser as unknown as { headerLines: unknown }).headerLines;
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
          ...(data.related ? { related: true } : {}), content: wanted ? Buffer.concat(chunks, size) : Buffer.alloc(0),
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
      if (!settled) { settled = true; resolve(mail as unknown as LeanMail); }
    });
    parser.end(raw);
  });
}
