// The one sanitizer for text that reaches a stanza or a Postgres `text` column (docs/design.md §Invariants, 3).

/**
 * XML 1.0 §2.2 Char ::= #x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] | [#x10000-#x10FFFF].
 * With the `u` flag a lone surrogate is one code point in D800–DFFF, outside every allowed range, so it
 * matches too. ltx writes such characters as they are and the server then closes the whole stream.
 */
const XML_FORBIDDEN = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu;

/**
 * Invisible characters that can make a sender or a subject read as something else (Unicode TR36 §2,
 * UTS #39 §3.1 "default ignorable"; CVE-2021-42574 "Trojan Source" for the bidi controls): soft hyphen,
 * Arabic letter mark, Mongolian vowel separator, zero-width space/joiners, LRM/RLM, bidi embeddings,
 * overrides and isolates (UAX #9 §2), word joiner and invisible operators, BOM/ZWNBSP, Hangul fillers.
 * In one-line identity fields they have no legitimate use: they are removed, not shown, so that
 * "pay\u200Bpal" reads and compares as "paypal" and "invoice\u202Efdp.exe" as what it really is.
 */
const INVISIBLE = /[\u00AD\u061C\u115F\u1160\u180E\u200B-\u200F\u202A-\u202E\u2060-\u2064\u2066-\u2069\u3164\uFEFF\uFFA0]/g;

/**
 * In running text only what can hide or reorder text is removed: the bidi embeddings, overrides and
 * isolates (U+202A–U+202E, U+2066–U+2069), which reorder whole runs of what the reader sees (Trojan
 * Source), and the zero-width space, word joiner, invisible operators and BOM (U+200B, U+2060–U+2064,
 * U+FEFF), which hide words from a reader and from filters and mean nothing in plain text. Removed rather
 * than shown as a visible placeholder: the text then reads in its logical order, which is what it says,
 * and legitimate right-to-left mail is not littered with markers. Kept, because scripts need them:
 * ZWNJ/ZWJ (U+200C/U+200D: Persian, Indic scripts, emoji sequences; UAX #31 §2.3) and LRM/RLM/ALM
 * (U+200E/U+200F/U+061C: they only set the direction of neighbouring neutral characters, UAX #9 §2.6).
 */
const HIDING = /[\u200B\u202A-\u202E\u2060-\u2064\u2066-\u2069\uFEFF]/g;

/** Text safe for XML 1.0 and for Postgres `text` (NUL is a C0 control, removed too). */
export function sanitizeText(value: string): string {
  return value.replace(XML_FORBIDDEN, "");
}

/** For one-line fields a person reads as identity (subject, display name): also drop invisible
 * formatting characters and fold line breaks and tabs into spaces. */
export function sanitizeLine(value: string): string {
  return sanitizeText(value).replace(INVISIBLE, "").replace(/[\t\r\n]+/g, " ").trim();
}

/** For running text a person reads (the mail's text): sanitizeText, and no characters that hide or
 * reorder what is shown (see HIDING). */
export function neutraliseText(value: string): string {
  return sanitizeText(value).replace(HIDING, "");
}

/** Cut `text` so that its UTF-8 encoding fits `maxBytes` at the most sensible boundary near the end:
 * a paragraph (blank line) in the last quarter, else a line break in the last fifth, else a space in the
 * last tenth, else between two characters (never inside a UTF-8 sequence or a surrogate pair).
 * Returns the kept text and how many bytes were left out. */
export function truncateUtf8(text: string, maxBytes: number): { text: string; omittedBytes: number } {
  const total = Buffer.byteLength(text, "utf8");
  if (total <= maxBytes) return { text, omittedBytes: 0 };
  // Decoding a cut buffer can end in a partial character; drop the replacement char it produces.
  let cut = Buffer.from(text, "utf8").subarray(0, maxBytes).toString("utf8").replace(/\uFFFD$/u, "");
  const paragraph = cut.lastIndexOf("\n\n");
  const lineBreak = cut.lastIndexOf("\n");
  const space = cut.search(/\s\S*$/);
  const boundary = paragraph > cut.length * 0.75 ? paragraph
    : lineBreak > cut.length * 0.8 ? lineBreak : space > cut.length * 0.9 ? space : -1;
  if (boundary > 0) cut = cut.slice(0, boundary);
  cut = cut.trimEnd();
  return { text: cut, omittedBytes: total - Buffer.byteLength(cut, "utf8") };
}
