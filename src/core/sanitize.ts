// The one sanitizer for text that reaches a stanza or a Postgres `text` column (design invariant 3).

/**
 * XML 1.0 §2.2 Char ::= #x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] | [#x10000-#x10FFFF].
 * With the `u` flag a lone surrogate is one code point in D800–DFFF, outside every allowed range, so it
 * matches too. ltx writes such characters as they are and the server then closes the whole stream.
 */
const XML_FORBIDDEN = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu;

/** Zero-width and bidirectional formatting characters (Unicode TR9 §2; U+200B–U+200F, U+202A–U+202E,
 * U+2060–U+2064, U+2066–U+2069, U+FEFF): they can make a sender or subject read as something else. */
const INVISIBLE = /[\u200B-\u200F\u202A-\u202E\u2060-\u2064\u2066-\u2069\uFEFF]/g;

/** Text safe for XML 1.0 and for Postgres `text` (NUL is a C0 control, removed too). */
export function sanitizeText(value: string): string {
  return value.replace(XML_FORBIDDEN, "");
}

/** For one-line fields a person reads as identity (subject, display name): also drop invisible
 * formatting characters and fold line breaks and tabs into spaces. */
export function sanitizeLine(value: string): string {
  return sanitizeText(value).replace(INVISIBLE, "").replace(/[\t\r\n]+/g, " ").trim();
}

/** Cut `text` so that its UTF-8 encoding fits `maxBytes`, on a line or word boundary when one is near,
 * never inside a surrogate pair. Returns the kept text and how many bytes were left out. */
export function truncateUtf8(text: string, maxBytes: number): { text: string; omittedBytes: number } {
  const total = Buffer.byteLength(text, "utf8");
  if (total <= maxBytes) return { text, omittedBytes: 0 };
  // Decoding a cut buffer can end in a partial character; drop the replacement char it produces.
  let cut = Buffer.from(text, "utf8").subarray(0, maxBytes).toString("utf8").replace(/\uFFFD$/u, "");
  const lineBreak = cut.lastIndexOf("\n");
  const space = cut.lastIndexOf(" ");
  const boundary = lineBreak > cut.length * 0.8 ? lineBreak : space > cut.length * 0.9 ? space : -1;
  if (boundary > 0) cut = cut.slice(0, boundary);
  cut = cut.trimEnd();
  return { text: cut, omittedBytes: total - Buffer.byteLength(cut, "utf8") };
}
