// Chat → mail decisions, pure: who may send, which subject, which text.
import { sanitizeLine, sanitizeText } from "./sanitize.ts";

/** What the XMPP side read from a user's message to a contact. */
export interface IncomingChat {
  id: string | null;
  /** the sender's full JID as the server stamped it (RFC 6120 §8.1.2.1: trusted, not user-typed) */
  from: string;
  to: string;
  body: string | null;
  subject: string | null;
  /** XEP-0461: the id of the message this one answers */
  replyTo: string | null;
  /** XEP-0428 fallback ranges of the body, in code points, to strip (the quoted original) */
  fallback: { start: number; end: number }[];
  /** OMEMO, OpenPGP for XMPP, OTR or XEP-0380 marked: its text is a fallback, never to be mailed */
  encrypted: string | null;
  receiptRequested: boolean;
  /** XEP-0172 nickname the user sent along: the From display name */
  nick: string | null;
  /** a new conversation (the "new mail" command): never threaded under an earlier mail */
  fresh?: boolean;
  /** XEP-0066 out-of-band URL: a file the user shared (usually a XEP-0363 upload) */
  oobUrl?: string | null;
}

/** RFC 5322 §3.6.5: "Re: " once, whatever prefix the original already had. */
export function replySubject(original: string): string {
  const subject = sanitizeLine(original);
  return /^(re|aw|sv|antw)\s*:/i.test(subject) ? subject : `Re: ${subject || "(no subject)"}`;
}

/** A short subject for a new mail: the first line of the text, cut at a word near 60 characters. */
export function subjectFromText(text: string): string {
  const first = sanitizeLine(text.split("\n").find((l) => l.trim() !== "") ?? "");
  if (first.length <= 60) return first || "(no subject)";
  const cut = first.slice(0, 60);
  const space = cut.lastIndexOf(" ");
  return `${space > 30 ? cut.slice(0, space) : cut}…`;
}

/** The text to mail: XEP-0428 fallback (the quoted original) removed, line ends normalised
 * (nodemailer passes a bare CR through), XML-forbidden characters gone. */
export function mailText(chat: Pick<IncomingChat, "body" | "fallback">): string {
  let text = chat.body ?? "";
  if (chat.fallback.length > 0) {
    const points = [...text];
    const drop = new Set<number>();
    for (const { start, end } of chat.fallback) for (let i = start; i < end && i < points.length; i++) drop.add(i);
    text = points.filter((_, i) => !drop.has(i)).join("");
  }
  return sanitizeText(text).replace(/\r\n?/g, "\n").trim();
}

/** The file a chat message shares: its XEP-0066 URL, or a body that is nothing but a URL. */
export function sharedFileUrl(chat: Pick<IncomingChat, "body" | "oobUrl">): string | null {
  if (chat.oobUrl) return chat.oobUrl.trim();
  const body = (chat.body ?? "").trim();
  return /^(https?|aesgcm):\/\/\S+$/i.test(body) ? body : null;
}
