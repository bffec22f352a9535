// Writing mail headers: the only place that does (docs/design.md §Rooms). Values come from our own data, or
// from a stranger's mail only as display names and addresses already checked (core/display-name.ts,
// core/reply-all.ts); nodemailer quotes a name or writes it as RFC 2047 encoded words as it needs.
import MailComposer from "nodemailer/lib/mail-composer";
import type MimeNode from "nodemailer/lib/mime-node";
import { encodeWord } from "nodemailer/lib/mime-funcs";
import { encode, wrap } from "nodemailer/lib/qp";
import { displayName } from "../core/display-name.ts";

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
  /** the correspondent's name as the answered mail gave it */
  toName?: string | null;
  /** RFC 5322 §3.6.3 copies (core/reply-all.ts: at most MAX_CC, each address fits a line) */
  cc?: { address: string; name: string | null }[];
  subject: string;
  text: string;
  messageId: string;
  inReplyTo: string | null;
  references: string[];
  jabberId: string;
  date: Date;
  /** RFC 5322 §3.6.2: where answers go (a conference room's own address) */
  replyTo?: string;
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
  const id = (v: string) => `<${v.replace(/[<>\s]/g, "")}>`;
  const inReplyTo = mail.inReplyTo && fitsLine(id(mail.inReplyTo)) ? id(mail.inReplyTo) : null;
  const references = boundReferences(mail.references.map(id));
  const jabberId = line(mail.jabberId);
  const composer = new MailComposer({
    from: { address: mail.from.address, name: displayName(mail.from.name) ?? "" },
    to: [{ address: mail.to, name: displayName(mail.toName) ?? "" }],
    ...(mail.cc?.length ? { cc: mail.cc.map((c) => ({ address: c.address, name: displayName(c.name) ?? "" })) } : {}),
    text: mail.text,
    messageId: id(mail.messageId),
    date: mail.date,
    ...(mail.replyTo ? { replyTo: { address: mail.replyTo, name: "" } } : {}),
    ...(inReplyTo ? { inReplyTo } : {}),
    ...(references.length ? { references: references.join(" ") } : {}),
    headers: { Subject: subjectHeader(mail.subject), ...(fitsLine(jabberId) ? { "Jabber-ID": jabberId } : {}) },
    textEncoding: "quoted-printable",
    attachments: (mail.attachments ?? []).map((a) => ({ filename: cutText(line(a.filename), MAX_FILENAME),
      contentType: MIME_TYPE.test(a.contentType) ? a.contentType : "application/octet-stream",
      content: a.content, contentDisposition: "attachment" as const })),
    disableFileAccess: true,
    disableUrlAccess: true,
  });
  return composer.compile();
}

const line = (v: string) => v.replace(/[\r\n\t\u0000-\u001F\u007F]+/g, " ").trim();

// RFC 5322 §2.1.1: a line is at most 998 characters and should be at most 78; §2.2.3: a long field is
// folded at its white space. nodemailer folds every header it writes at 76 where there is white space
// and writes non-ASCII text as RFC 2047 encoded words of at most 52 characters (which fold too); a run
// of ASCII without white space is written whole. So every value we write from what a user typed or a
// stranger's mail held is bounded here: cut (the subject, file names), encoded (a subject with an
// unbreakable run), or left out when it cannot fit a line (a message id or JID longer than a line).

/** Longer subjects are cut: every mail program shows far fewer characters, and a whole 200 stays readable. */
export const MAX_SUBJECT = 200;
const MAX_FILENAME = 200;
/** A run this long would make `Subject: ` plus it longer than 78: the subject is then written encoded. */
const LONGEST_RUN = 66;
/** RFC 2045 §5.1 type "/" subtype, tokens only, of a sane length. */
const MIME_TYPE = /^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,63}\/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,63}$/;
/** At most this many message ids in References: the first (the thread's root) and the latest. */
const MAX_REFERENCES = 20;

/** Cut `text` to `max` characters (code points, never half a surrogate pair), marked with "…". */
export function cutText(text: string, max: number): string {
  const chars = Array.from(text);
  return chars.length <= max ? text : `${chars.slice(0, max).join("").trimEnd()}…`;
}

/** A whole field `Name: value` on one line fits the 998 limit with room for the name. */
const fitsLine = (value: string) => value.length > 0 && value.length <= 900;

/** RFC 5322 §3.6.4 with RFC 5537 §3.4.4's trimming: the first id and the latest ones, each fitting a line. */
function boundReferences(ids: string[]): string[] {
  const fit = ids.filter(fitsLine);
  return fit.length <= MAX_REFERENCES ? fit : [fit[0]!, ...fit.slice(fit.length - MAX_REFERENCES + 1)];
}

/** The Subject field: one line of the subject, cut at MAX_SUBJECT, as encoded words when a run of it
 * could not be folded (RFC 2047 §2: an encoded word is at most 75 characters; §5 (1): in a Subject). */
function subjectHeader(subject: string): string | { prepared: true; foldLines: true; value: string } {
  const value = cutText(line(subject), MAX_SUBJECT);
  if (!value.split(/\s+/).some((run) => run.length > LONGEST_RUN)) return value;
  return { prepared: true, foldLines: true, value: encodeWord(value, /^[\x20-\x7e]*$/.test(value) ? "Q" : "B", 52) };
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
