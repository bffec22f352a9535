// Mail → chat translation: pure, no I/O (docs/design.md §Contract).
import { collapseQuotes } from "./quotes.ts";
import { shownLess, shownLessLines, type PartView } from "./shows-less.ts";
import { neutraliseText, sanitizeLine, sanitizeText, truncateUtf8 } from "./sanitize.ts";
import type { ChatMessage, ParsedMail } from "./types.ts";

export interface MailToChatInput {
  mail: ParsedMail;
  /** stable stanza id of this delivery */
  id: string;
  fromJid: string;
  toJid: string;
  /** when the gateway accepted the mail; delivery later than a minute after it carries a XEP-0203 delay */
  acceptedAt: Date;
  now: Date;
  /** upper bound for the body in UTF-8 bytes, kept well below the server's stanza limit */
  maxBodyBytes: number;
  /** the mailbox's `collapse_quotes` setting: quoted history becomes one line (default true) */
  collapseQuotes?: boolean;
  /** the envelope sender was null (`MAIL FROM:<>`, RFC 5321 §4.5.5): a bounce or other automatic mail */
  nullSender?: boolean;
  /** a `Date:` older than this before acceptance makes the message late too (default one day) */
  lateDateMs?: number;
  /** per attachment index: "sent" when it follows as a file message, else why it was not forwarded */
  attachmentFates?: ReadonlyMap<number, string>;
  /** where the whole mail can be read (PUBLIC_URL /m/<token>): the last line when the chat shows less */
  fullMailUrl?: string;
  /** what the address the mail was sent to adds to the mailbox's (core/recipients.ts addressTag): the
   * subaddress's tag, or the address a catch-all took; shown first on the subject line, in brackets */
  addressTag?: string | null;
  /** the leaf parts stored at intake (messages.parts): whether the chat shows less (core/shows-less.ts) */
  parts?: readonly PartView[] | null;
}

/** Delivery later than this after acceptance carries a XEP-0203 <delay/>. */
const LATE_MS = 60_000;
const LATE_DATE_MS = 24 * 3600_000;
/** Dates before RFC 822 (August 1982) are not believed: a broken clock or a forged header. */
const EARLIEST_CREDIBLE = Date.UTC(1982, 7, 13);
/** Forward subjects (en, fr "TR", de "WG", es/pt "RV"/"ENC"): their header blocks are content, not history. */
const FORWARD_SUBJECT = /^\s*(fwd?|tr|wg|rv|enc)\s*:/i;

/** One-line fields (subject, nick) and each attachment's name and type: mail headers may be up to 1 MiB
 * (mailparser's limit), a stanza only 512 KiB (Prosody's component_stanza_size_limit, invariant 3). */
const LINE_BYTES = 1024;
const FIELD_BYTES = 255;
/** "[… 1023.9 KiB more not shown]" and the blank line before it. */
const NOTICE_BYTES = 40;

export function mailToChat(input: MailToChatInput): ChatMessage {
  const { mail } = input;
  const markers = [spamMarker(mail), addressMarker(input.addressTag), authenticationMarker(mail), automaticMarker(mail, input.nullSender ?? false)].filter(Boolean);
  const subjectLine = [...markers, sanitizeLine(mail.subject) || "(no subject)"].join(" ");
  const subject = truncateUtf8(subjectLine, LINE_BYTES).text;
  const attachments = mail.attachments.slice(0, 50).map((a, i) => {
    const fate = input.attachmentFates?.get(i);
    if (fate === "sent") return `[attachment: ${describeAttachment(a)}, sent below]`;
    return `[attachment not forwarded: ${describeAttachment(a)}${fate ? `: ${sanitizeLine(fate)}` : ""}]`;
  }).join("\n");
  // The subject and the attachment list always show; the text gets what is left of the budget, keeping
  // room for the cut notice and the last lines (what is missing, the link) so the whole body stays within
  // maxBodyBytes.
  const fixed = Buffer.byteLength(subject) + 2 + (attachments ? Buffer.byteLength(attachments) + 2 : 0);
  const normalised = normaliseText(neutraliseText(mail.text));
  const text = input.collapseQuotes === false ? normalised
    : collapseQuotes(normalised, { forwarded: FORWARD_SUBJECT.test(mail.subject) }).trim();
  const url = input.fullMailUrl ? sanitizeLine(input.fullMailUrl) : "";
  const less = { mail, parts: input.parts ?? null, quotesHidden: text !== normalised,
    ...(input.attachmentFates ? { fates: input.attachmentFates } : {}) };
  const uncut = shownLessLines(shownLess({ ...less, cutBytes: 0 }), url || null);
  const whole = Math.max(0, input.maxBodyBytes - fixed - (uncut ? Buffer.byteLength(uncut) + 2 : 0));
  // The last lines once the text is cut say the same words whatever the count: their size is known before.
  const cutTail = shownLessLines(shownLess({ ...less, cutBytes: 1 }), url || null);
  const room = Math.max(0, input.maxBodyBytes - fixed - (cutTail ? Buffer.byteLength(cutTail) + 2 : 0));
  const { text: kept, omittedBytes } = Buffer.byteLength(text) <= whole
    ? { text, omittedBytes: 0 } : truncateUtf8(text, Math.max(0, room - NOTICE_BYTES));
  const notice = `[… ${formatSize(omittedBytes)} more not shown]`;
  const shown = omittedBytes === 0 ? kept : kept ? `${kept}\n\n${notice}` : notice;
  const tail = omittedBytes === 0 ? uncut : shownLessLines(shownLess({ ...less, cutBytes: omittedBytes }), url || null);
  const full = [subject, shown, attachments].filter(Boolean).join("\n\n");
  // The subject and attachments alone can exceed a small budget: the bound holds for the whole body, and
  // the last lines stay whole when they fit at all (a link cut in half leads nowhere).
  const tailBytes = tail ? Buffer.byteLength(tail) + 2 : 0;
  const body = Buffer.byteLength(full) + tailBytes <= input.maxBodyBytes ? [full, tail].filter(Boolean).join("\n\n")
    : tail && tailBytes < input.maxBodyBytes ? `${truncateUtf8(full, input.maxBodyBytes - tailBytes).text}\n\n${tail}`
      : truncateUtf8([full, tail].filter(Boolean).join("\n\n"), input.maxBodyBytes).text;
  return {
    id: input.id,
    from: input.fromJid,
    to: input.toJid,
    body,
    nick: mail.fromName ? truncateUtf8(sanitizeLine(mail.fromName), LINE_BYTES).text || null : null,
    delay: delayStamp(input),
  };
}

/**
 * XEP-0203: a message delivered late carries the time it was originally sent. It is late when it reaches
 * the user more than a minute after acceptance (queued while XMPP was down), or when its `Date:` is far
 * older than acceptance (it sat in some queue on the way). The stamp is the mail's `Date:` when that is
 * credible (after 1982, not after acceptance: a sender's clock ahead of ours is clamped), else acceptance.
 */
export function delayStamp(input: Pick<MailToChatInput, "mail" | "acceptedAt" | "now" | "lateDateMs">): Date | null {
  const accepted = input.acceptedAt.getTime();
  const sent = input.mail.date?.getTime();
  const credible = sent !== undefined && Number.isFinite(sent) && sent >= EARLIEST_CREDIBLE ? Math.min(sent, accepted) : null;
  const lateDelivery = input.now.getTime() - accepted > LATE_MS;
  const lateDate = credible !== null && accepted - credible > (input.lateDateMs ?? LATE_DATE_MS);
  if (!lateDelivery && !lateDate) return null;
  return credible === null ? input.acceptedAt : new Date(credible);
}

/** `[news]` for mail to `toto+news@`, `[sales@example.org]` for mail a catch-all took: the folder it would go to. */
export function addressMarker(tag: string | null | undefined): string {
  const line = tag ? truncateUtf8(sanitizeLine(tag), FIELD_BYTES).text : "";
  return line ? `[${line}]` : "";
}

/** One short marker when the sender is not verified: a warning when its domain disowns it. */
export function authenticationMarker(mail: ParsedMail): string {
  const auth = mail.authentication;
  if (!auth) return "";
  if (auth.warning) return `[⚠ ${sanitizeLine(auth.warning)}]`;
  return auth.verified ? "" : "[unverified sender]";
}

/** docs/design.md §Spam: mail the filter marks (`add header`, `rewrite subject`), or could not check. */
export function spamMarker(mail: ParsedMail): string {
  const v = mail.spam;
  if (!v) return "";
  if (v.unfiltered) return "[not checked for spam]";
  return v.action === "add header" || v.action === "rewrite subject" ? `[spam${v.score === null ? "" : ` ${v.score}`}]` : "";
}

/** One short marker in front of the subject for list and automatic mail (RFC 2919, RFC 3834). */
export function automaticMarker(mail: ParsedMail, nullSender: boolean): string {
  if (mail.listId) return `[list: ${sanitizeLine(mail.listId)}]`;
  return mail.automatic || nullSender ? "[automatic]" : "";
}

/** CRLF and lone CR to LF, no trailing blanks (but "-- "), at most one empty line in a row (HTML conversion and
 * mail clients leave runs of them; in a chat bubble they are only noise). */
function normaliseText(text: string): string {
  // Trailing blanks are cut with a loop, not /[ \t]+$/gm: that regex retries from every blank of a long run
  // that does not end the line (quadratic: 40,000 spaces and a letter took 6 s on the delivery loop).
  return sanitizeText(text).replace(/\r\n?/g, "\n").split("\n").map(trimBlanksEnd).join("\n").replace(/\n{3,}/g, "\n\n").trim()
    .replace(/^--$/gm, "-- "); // the signature separator keeps its space (RFC 3676 §4.3)
}

function trimBlanksEnd(line: string): string {
  let end = line.length;
  while (end > 0 && (line.charCodeAt(end - 1) === 0x20 || line.charCodeAt(end - 1) === 0x09)) end--;
  return end === line.length ? line : line.slice(0, end);
}

function describeAttachment(a: ParsedMail["attachments"][number]): string {
  const name = a.filename ? truncateUtf8(sanitizeLine(a.filename), FIELD_BYTES).text : "unnamed";
  // Invariant 3: every string reaching a stanza passes the sanitizer here, whatever the stored row holds.
  return `${name} (${truncateUtf8(sanitizeLine(a.contentType), FIELD_BYTES).text}, ${formatSize(a.size)})`;
}

export function formatSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} bytes`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}
