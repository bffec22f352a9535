// Writing mail headers: the only place that does (docs/design.md §Rooms). Values come from our own data.
import MailComposer from "nodemailer/lib/mail-composer";
import type MimeNode from "nodemailer/lib/mime-node";
import { encode, wrap } from "nodemailer/lib/qp";

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
 * The bytes `build()` writes for a mail that is one text part, without its stream machinery (three times
 * the CPU of the rest): nodemailer's own header block, its quoted-printable functions, and the final line
 * break its LastNewline stage adds. Null when the part needs anything else (build() writes it then).
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

/** Up to this many bytes, build()'s encoder stream encodes a text in one piece (its slices are 64 KiB). */
const ONE_PIECE = 64 * 1024;

/**
 * RFC 2045 §6.7 with soft breaks at 76, as build()'s quoted-printable stream writes a text given in one
 * chunk: the whitespace the text ends with is held back until the end of the input (where it is encoded)
 * and the lines are wrapped again with it. Null for a text longer than one piece.
 */
function quotedPrintable(bytes: Buffer): string | null {
  if (bytes.length > ONE_PIECE) return null;
  let end = bytes.length;
  while (end > 0 && (bytes[end - 1] === 0x20 || bytes[end - 1] === 0x09)) end--;
  let out = "";
  let line = "";
  for (const piece of [bytes.subarray(0, end), bytes.subarray(end)]) {
    if (piece.length === 0) continue;
    const wrapped = wrap(line + encode(piece), 76);
    const last = wrapped.lastIndexOf("\n") + 1;
    out += wrapped.slice(0, last);
    line = wrapped.slice(last);
  }
  return out + line;
}
