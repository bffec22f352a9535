// Writing mail headers: the only place that does (design: rooms). Values come from our own data.
import MailComposer from "nodemailer/lib/mail-composer";
import type MimeNode from "nodemailer/lib/mime-node";
import { Encoder as QpEncoder } from "nodemailer/lib/qp";

/** RFC 5321 §4.4 trace field prepended to every accepted mail (and counted for loop detection). */
export function receivedHeader(input: { helo: string | null; remoteAddress: string | null; by: string;
  id: string; recipient: string | null; date: Date }): string {
  // No whitespace or controls (they could end the header); UTF-8 stays, RFC 6532 allows it in trace fields.
  const clean = (v: string) => v.replace(/[\s\u0000-\u001F\u007F]/gu, "").slice(0, 255);
  const from = `${clean(input.helo ?? "unknown")} ([${clean(input.remoteAddress ?? "unknown")}])`;
  const rcpt = input.recipient ? `\r\n\tfor <${clean(input.recipient)}>` : "";
  return `Received: from ${from}\r\n\tby ${clean(input.by)} (Passerelle) with ESMTP id ${clean(input.id)}${rcpt};\r\n\t${rfc5322Date(input.date)}\r\n`;
}

/** RFC 5322 §3.3 date-time in UTC. */
export function rfc5322Date(date: Date): string {
  return date.toUTCString().replace("GMT", "+0000");
}

export interface OutboundMail {
  from: { address: string; name: string | null };
  to: string;
  subject: string;
  text: string;
  messageId: string;
  inReplyTo: string | null;
  references: string[];
  jabberId: string;
  date: Date;
  /** files the user shared, attached as they are */
  attachments?: { filename: string; contentType: string; content: Buffer }[];
}

/**
 * RFC 5322 bytes of a reply, built once at queue time so every retry sends the same Message-ID.
 * Every value comes from our own mapping or is one sanitised line: a CR/LF typed in chat cannot make
 * a header or a recipient (invariant 5). Jabber-ID: RFC 7259.
 */
export async function composeMail(mail: OutboundMail): Promise<Buffer> {
  const root = mimeTree(mail);
  return (mail.attachments?.length ? null : textOnly(root, mail.text))
    ?? new Promise((resolve, reject) => root.build((err, raw) => (err ? reject(err) : resolve(raw))));
}

/** The MIME tree of the mail (nodemailer's MailComposer), not yet written out. */
export function mimeTree(mail: OutboundMail): MimeNode {
  const line = (v: string) => v.replace(/[\r\n\t\u0000-\u001F\u007F]+/g, " ").trim();
  const id = (v: string) => `<${v.replace(/[<>\s]/g, "")}>`;
  const composer = new MailComposer({
    from: { address: mail.from.address, name: line(mail.from.name ?? "") },
    to: [{ address: mail.to, name: "" }],
    subject: line(mail.subject),
    text: mail.text,
    messageId: id(mail.messageId),
    date: mail.date,
    ...(mail.inReplyTo ? { inReplyTo: id(mail.inReplyTo) } : {}),
    ...(mail.references.length ? { references: mail.references.map(id).join(" ") } : {}),
    headers: { "Jabber-ID": line(mail.jabberId) },
    textEncoding: "quoted-printable",
    attachments: (mail.attachments ?? []).map((a) => ({ filename: line(a.filename), contentType: line(a.contentType),
      content: a.content, contentDisposition: "attachment" as const })),
    disableFileAccess: true,
    disableUrlAccess: true,
  });
  return composer.compile();
}

/**
 * The bytes `build()` writes for a mail that is one text part, without its stream machinery (four times
 * the CPU of the rest, issue #7): nodemailer's own header block, its quoted-printable encoder driven
 * directly, and the final line break its LastNewline stage adds. Null when the part needs anything else.
 * test/unit/mail/compose.test.ts holds this to `build()`'s output byte for byte.
 */
function textOnly(root: MimeNode, text: string): Buffer | null {
  const encoding = root.getTransferEncoding();
  const body = encoding === "quoted-printable" ? quotedPrintable(Buffer.from(text, "utf8"))
    : encoding === "7bit" || encoding === "8bit" ? text : null;
  if (body === null) return null;
  const end = body === "" || body.endsWith("\n") ? "" : body.endsWith("\r") ? "\n" : "\r\n";
  return Buffer.from(`${root.buildHeaders()}\r\n\r\n${body}${end}`, "utf8");
}

/** RFC 2045 §6.7 with soft breaks at 76, exactly as build() encodes a text part: the same encoder, synchronously. */
function quotedPrintable(bytes: Buffer): string {
  const out: string[] = [];
  const encoder = new QpEncoder();
  // Its transform and flush call push and their callback synchronously.
  encoder.push = (chunk: unknown) => {
    if (chunk !== null && chunk !== undefined) out.push(String(chunk));
    return true;
  };
  if (bytes.length > 0) encoder._transform(bytes, "buffer" as BufferEncoding, () => undefined);
  encoder._flush(() => undefined);
  return out.join("");
}
