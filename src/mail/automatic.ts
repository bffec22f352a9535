// Is this mail from a list or a machine? Then it is marked in chat and nothing automatic answers it.
import { sanitizeLine } from "../core/sanitize.ts";

export interface Classification { automatic: boolean; listId: string | null }

type HeaderLines = ReadonlyArray<{ key: string; line: string }>;

/** Value of the first header `key` (lower case), unfolded (RFC 5322 §2.2.3), or undefined. */
function header(lines: HeaderLines, key: string): string | undefined {
  const line = lines.find((h) => h.key === key)?.line;
  return line === undefined ? undefined : line.slice(line.indexOf(":") + 1).replace(/\r?\n[ \t]/g, " ").trim();
}

/**
 * - RFC 2919 §3: `List-Id: Description <list-label.example.org>`; the id is what is in the brackets.
 * - RFC 3834 §5: `Auto-Submitted` other than `no` (auto-generated, auto-replied, auto-notified).
 * - RFC 3834 §2: `Precedence: bulk | list | junk` (de facto, not standard) is not to be answered.
 * - RFC 2369 `List-Unsubscribe`, `List-Post`: bulk mail even without a List-Id (newsletters).
 * - RFC 3462/6522 `multipart/report` (delivery and disposition notifications) is written by machines.
 * - `X-Autoreply`, `X-Autorespond` (vacation programs that predate RFC 3834).
 * List mail counts as automatic too: an automatic answer to it would go to every subscriber.
 */
export function classifyHeaders(lines: HeaderLines): Classification {
  const listHeader = header(lines, "list-id");
  const bracketed = listHeader && /<([^<>]+)>/.exec(listHeader)?.[1];
  const listId = (bracketed || listHeader) ? sanitizeLine(bracketed || listHeader!).slice(0, 200) || null : null;
  const autoSubmitted = header(lines, "auto-submitted");
  const precedence = header(lines, "precedence")?.toLowerCase();
  const contentType = header(lines, "content-type")?.toLowerCase() ?? "";
  const automatic = listId !== null
    || (autoSubmitted !== undefined && !/^no\b/i.test(autoSubmitted))
    || (precedence !== undefined && /^(bulk|list|junk)\b/.test(precedence))
    || header(lines, "list-unsubscribe") !== undefined || header(lines, "list-post") !== undefined
    || /^multipart\/report\b/.test(contentType)
    || header(lines, "x-autoreply") !== undefined || header(lines, "x-autorespond") !== undefined;
  return { automatic, listId };
}
