// A bounded subset of Unicode TR39 confusables.txt, hand-made after its prototypes: each character that
// draws like a Latin letter or an ASCII digit in common fonts maps to that Latin letter (lower case, as mail
// names are compared without case; src/core/skeleton.ts applies it after NFKD, which already folds
// fullwidth and mathematical forms). It covers Latin, Cyrillic, Greek and Armenian look-alikes only: a
// lookalike from another script is not caught here (the full table has some 6,000 entries).
const PAIRS: Record<string, string> = {
  // ASCII itself (confusables.txt: 0 → O, 1 → l, I → l) and one pair that draws as one letter.
  "0": "o", "1": "l", "I": "l", "m": "rn",
  // Latin letters beyond ASCII.
  "ı": "i", "ȷ": "j", "ɑ": "a", "ɡ": "g", "ɩ": "i", "ɪ": "i", "ǀ": "l", "ᴏ": "o", "ᴄ": "c", "ᴠ": "v",
  "ᴡ": "w", "ᴢ": "z", "ᴜ": "u", "ʏ": "y", "ɴ": "n", "ʜ": "h", "ʟ": "l", "ɢ": "g", "ᴋ": "k", "ᴍ": "rn", "ᴛ": "t",
  // Cyrillic.
  "а": "a", "в": "b", "г": "r", "е": "e", "һ": "h", "і": "i", "ј": "j", "к": "k", "м": "rn", "н": "h", "о": "o",
  "п": "n", "р": "p", "с": "c", "т": "t", "у": "y", "х": "x", "ѕ": "s", "ԁ": "d", "ԛ": "q", "ԝ": "w", "ь": "b",
  "ӏ": "l", "ү": "y", "ԍ": "g", "ԃ": "d", "ѡ": "w",
  "А": "a", "В": "b", "Е": "e", "К": "k", "М": "rn", "Н": "h", "О": "o", "Р": "p", "С": "c", "Т": "t", "У": "y",
  "Х": "x", "Ѕ": "s", "І": "l", "Ј": "j", "Ԛ": "q", "Ԝ": "w", "Ү": "y", "Ӏ": "l", "Ь": "b", "Ԁ": "d", "З": "3",
  // Greek.
  "α": "a", "β": "b", "γ": "y", "ι": "i", "κ": "k", "ν": "v", "ο": "o", "ρ": "p", "τ": "t", "υ": "u", "χ": "x",
  "ω": "w", "η": "n", "ϲ": "c", "ϳ": "j", "ε": "e",
  "Α": "a", "Β": "b", "Ε": "e", "Ζ": "z", "Η": "h", "Ι": "l", "Κ": "k", "Μ": "rn", "Ν": "n", "Ο": "o", "Ρ": "p",
  "Τ": "t", "Υ": "y", "Χ": "x", "Ϲ": "c", "Ϳ": "j",
  // Armenian.
  "օ": "o", "ս": "u", "ո": "n", "հ": "h", "ց": "g", "զ": "q", "Տ": "s", "Օ": "o",
};

export const CONFUSABLES: ReadonlyMap<string, string> = new Map(Object.entries(PAIRS));
