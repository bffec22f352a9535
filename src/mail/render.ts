// Writing mail headers: the only place that does (design: rooms). Values come from our own data.
import MailComposer from "nodemailer/lib/mail-composer";

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

export interface OutgoingMail {
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
export async function renderMail(mail: OutgoingMail): Promise<Buffer> {
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
  return new Promise((resolve, reject) => composer.compile().build((err, raw) => (err ? reject(err) : resolve(raw))));
}
