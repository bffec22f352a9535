// PRECIS UsernameCaseMapped (RFC 8265 §3.3) for self-service mailbox names, over the IdentifierClass
// (RFC 8264 §4.2), then narrowed to what a mail local part can safely carry. Pure: String.normalize and
// Unicode property escapes only.

/** `ascii`: letters, digits, `.`, `-`, `_` of US-ASCII only; `unicode`: the PRECIS letters and digits too. */
export type NameRepertoire = "ascii" | "unicode";

export type NameVerdict = { ok: true; name: string } | { ok: false; why: string };

// RFC 8264 §9 LetterDigits: Ll Lu Lo Nd Lm Mn Mc are PVALID in the IdentifierClass (§4.2).
const LETTER_DIGIT = /^[\p{Ll}\p{Lu}\p{Lo}\p{Nd}\p{Lm}\p{Mn}\p{Mc}]$/u;
const ASCII_NAME = /^[a-z0-9](?:[a-z0-9._-]*[a-z0-9])?$/;
const SEPARATORS = new Set([".", "-", "_"]);
// RFC 5321 §4.5.3.1.1: a local part is at most 64 octets.
const MAX_OCTETS = 64;

/** The width-mapping rule (RFC 8265 §3.3): fullwidth and halfwidth characters to their decomposition. */
export function widthMap(input: string): string {
  return input.replace(/[\u3000\uFF01-\uFFEE]/gu, (ch) => ch.normalize("NFKC"));
}

/**
 * RFC 8265 §3.3 enforcement: width mapping, case mapping (Unicode toLowerCase), NFC, then the
 * IdentifierClass (RFC 8264 §4.2) and the narrower mail repertoire. Returns the name to store and compare.
 */
export function precisUsername(input: string, repertoire: NameRepertoire): NameVerdict {
  const name = widthMap(input.trim()).toLowerCase().normalize("NFC");
  if (name.length === 0) return { ok: false, why: "A name is needed." };
  if (Buffer.byteLength(name, "utf8") > MAX_OCTETS) return { ok: false, why: `A name is at most ${MAX_OCTETS} bytes long.` };
  if (repertoire === "ascii") {
    if (!ASCII_NAME.test(name) || name.includes("..")) {
      return { ok: false, why: "Use ASCII letters (a-z), digits, dots, dashes or underscores, starting and ending with a letter or digit." };
    }
    return { ok: true, name };
  }
  const chars = [...name];
  for (const ch of chars) {
    if (SEPARATORS.has(ch) || /^[a-z0-9]$/.test(ch)) continue;
    // RFC 8264 §9 HasCompat: a character with a compatibility decomposition is DISALLOWED.
    if (!LETTER_DIGIT.test(ch) || ch.normalize("NFKC") !== ch) {
      return { ok: false, why: `The character ${describe(ch)} cannot be part of a name: use letters, digits, dots, dashes or underscores.` };
    }
  }
  const first = chars[0]!;
  const last = chars[chars.length - 1]!;
  if (SEPARATORS.has(first) || SEPARATORS.has(last) || /\p{M}/u.test(first) || /[._-]{2}/.test(name)) {
    return { ok: false, why: "A name starts and ends with a letter or digit, with one dot, dash or underscore at a time between." };
  }
  const scripts = scriptsOf(name);
  if (!singleScript(scripts)) {
    return { ok: false, why: `The name mixes scripts (${[...scripts].join(", ")}); write it in one.` };
  }
  // RFC 5893 §2 rule 1, reduced: a right-to-left name starts with a right-to-left letter.
  if (RTL.some((s) => scripts.has(s)) && !RTL_LETTER.test(first)) {
    return { ok: false, why: "A right-to-left name starts with a letter." };
  }
  return { ok: true, name };
}

// The character's code point, and its glyph only when it draws one (a control is never echoed back).
const describe = (ch: string) => `U+${ch.codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0")}`
  + (/^[\p{L}\p{N}\p{P}\p{S}]$/u.test(ch) ? ` “${ch}”` : "");

// Scripts a name may be written in (Unicode Script property); Common and Inherited characters (digits,
// separators, combining marks) belong to every script.
const SCRIPTS = ["Latin", "Greek", "Cyrillic", "Armenian", "Georgian", "Hebrew", "Arabic", "Syriac", "Thaana",
  "Devanagari", "Bengali", "Gurmukhi", "Gujarati", "Tamil", "Telugu", "Kannada", "Malayalam", "Sinhala", "Thai",
  "Lao", "Tibetan", "Myanmar", "Ethiopic", "Khmer", "Mongolian", "Han", "Hiragana", "Katakana", "Hangul", "Bopomofo"] as const;
const SCRIPT_RE = SCRIPTS.map((s) => [s, new RegExp(`\\p{Script=${s}}`, "u")] as const);
const RTL = ["Hebrew", "Arabic", "Syriac", "Thaana"];
const RTL_LETTER = /^[\p{Script=Hebrew}\p{Script=Arabic}\p{Script=Syriac}\p{Script=Thaana}]$/u;

/** The scripts of a name's letters; a letter of none of SCRIPTS counts as "Other". */
export function scriptsOf(name: string): Set<string> {
  const found = new Set<string>();
  for (const ch of name) {
    if (!/\p{L}/u.test(ch)) continue;
    found.add(SCRIPT_RE.find(([, re]) => re.test(ch))?.[0] ?? "Other");
  }
  return found;
}

// Unicode TR39 §5.2 "Highly Restrictive", without Latin in its mixtures: one script, or Han with Hiragana
// and Katakana (Japanese), with Hangul (Korean) or with Bopomofo.
const TOGETHER = [["Han", "Hiragana", "Katakana"], ["Han", "Hangul"], ["Han", "Bopomofo"]];

export function singleScript(scripts: Set<string>): boolean {
  if (scripts.size <= 1) return true;
  return TOGETHER.some((group) => [...scripts].every((s) => group.includes(s)));
}
