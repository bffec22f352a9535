// What a chat message shows less of than the mail it stands for (docs/design.md §What the chat shows). Pure:
// decided from what the one parse stored (the chat's view and the MIME structure, messages.parts), never from
// the mail's bytes. When the mail has a page (PUBLIC_URL), whatever is missing is named on one line at the end
// of the message and the page's URL follows alone on the last line, so that no client glues a character to
// the link. Without a page, the line names only what no other line of the message already says (the lost
// formatting): hidden quotes, a cut text and each attachment not sent have their own line already.
import type { ParsedMail } from "./types.ts";

/** The few fields of a stored leaf part (mail/mime-parts.ts MimePart) this decision reads. */
export interface PartView {
  contentType: string;
  disposition: string | null;
  size: number;
  /** an attachment's index: absent for the mail's own text */
  attachment?: number;
}

export interface ShownLessInput {
  mail: Pick<ParsedMail, "fromHtml" | "attachments" | "text">;
  /** the leaf parts stored at intake; null when the parser could not finish or the mail predates them */
  parts: readonly PartView[] | null;
  /** per attachment index: "sent" when it follows as a file message (queue/attachments.ts) */
  fates?: ReadonlyMap<number, string>;
  /** quoted history was collapsed into "[quoted text hidden: …]" lines (core/quotes.ts) */
  quotesHidden: boolean;
  /** bytes of text cut for the chat's size limit */
  cutBytes: number;
}

/**
 * A mail written only in HTML has lost its formatting in the chat, which shows a conversion of it (links,
 * tables, emphasis and images approximated). Beside a text part the sender's program wrote, an HTML part is
 * taken to carry formatting of its own when it is much larger than that text: a mail program's HTML twin of
 * a short reply (`<div dir="ltr">Hi</div>`, a blockquote for the history) stays within a few times the text,
 * a newsletter's tables, styles and links are many times it.
 */
const FORMATTING_RATIO = 4;
const FORMATTING_SLACK = 2048;

/** One thing the chat does not show; `elsewhere`: another line of the message already says so. */
export interface Missing { what: string; elsewhere: boolean }

/** What is missing, in the order a reader meets it; empty when the chat shows the whole mail. */
export function shownLess(input: ShownLessInput): Missing[] {
  const { mail } = input;
  const out: Missing[] = [];
  if (hasFormatting(input)) out.push({ what: "formatting", elsewhere: false });
  // Inline images and attachments not sent are each listed with their reason (core/translate.ts).
  const inline = mail.attachments.filter((a) => a.related).length;
  if (inline) out.push({ what: count(inline, "inline image"), elsewhere: true });
  const unsent = mail.attachments.filter((a, i) => !a.related && input.fates?.get(i) !== "sent").length;
  if (unsent) out.push({ what: count(unsent, "attachment"), elsewhere: true });
  if (input.quotesHidden) out.push({ what: "quoted text", elsewhere: true });
  if (input.cutBytes > 0) out.push({ what: "the rest of the text", elsewhere: true });
  return out;
}

function hasFormatting({ mail, parts }: ShownLessInput): boolean {
  if (mail.fromHtml) return true;
  const body = (parts ?? []).filter((p) => p.attachment === undefined && p.disposition?.toLowerCase() !== "attachment");
  const html = sum(body.filter((p) => p.contentType.toLowerCase() === "text/html"));
  const plain = sum(body.filter((p) => p.contentType.toLowerCase() === "text/plain"));
  return html > 0 && html > FORMATTING_RATIO * plain + FORMATTING_SLACK;
}

const sum = (parts: readonly PartView[]) => parts.reduce((n, p) => n + p.size, 0);
const count = (n: number, what: string) => `${n} ${what}${n === 1 ? "" : "s"}`;

/** "a", "a and b", "a, b and c" */
function list(items: string[]): string {
  return items.length <= 1 ? items.join("") : `${items.slice(0, -1).join(", ")} and ${items.at(-1)}`;
}

/**
 * The message's last lines when it shows less than the mail: what is missing and, when the mail has a page,
 * its URL alone on the next line. Null when there is nothing to say.
 */
export function shownLessLines(missing: Missing[], url: string | null): string | null {
  const named = url ? missing : missing.filter((m) => !m.elsewhere);
  if (named.length === 0) return null;
  const what = list(named.map((m) => m.what));
  return url ? `[not shown here: ${what}; full mail below]\n${url}` : `[not shown here: ${what}]`;
}
