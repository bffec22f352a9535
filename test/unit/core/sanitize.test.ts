// The one sanitizer (docs/design.md §Invariants, 3): XML 1.0 §2.2 Char, no NUL for Postgres, invisible characters in identity lines.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { neutraliseText, sanitizeLine, sanitizeText, truncateUtf8 } from "../../../src/core/sanitize.ts";

const ch = (...codes: number[]) => String.fromCharCode(...codes);
const NUL = ch(0);
const ESC = ch(0x1b);
const LONE_HIGH = "\uD800";
const LONE_LOW = "\uDFFF";
const GRINNING = "\uD83D\uDE00"; // U+1F600, a valid surrogate pair
const XML_CHAR = /^[\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]*$/u;

describe("sanitizeText", () => {
  it("removes every C0 control except tab, LF and CR", () => {
    let all = "";
    for (let c = 0; c < 0x20; c++) all += ch(c);
    assert.equal(sanitizeText(`a${all}b`), "a\t\n\rb");
  });

  it("removes NUL and ESC inside text", () => {
    assert.equal(sanitizeText(`be${NUL}fore${ESC}[31mred`), "before[31mred");
  });

  it("removes the non-characters U+FFFE and U+FFFF but keeps U+FFFD", () => {
    assert.equal(sanitizeText(`a${ch(0xfffe)}b${ch(0xffff)}c${ch(0xfffd)}d`), `abc${ch(0xfffd)}d`);
  });

  it("removes lone surrogates, high or low, in any position", () => {
    assert.equal(sanitizeText(`a${LONE_HIGH}b`), "ab");
    assert.equal(sanitizeText(`a${LONE_LOW}b`), "ab");
    assert.equal(sanitizeText(`${LONE_HIGH}`), "");
    assert.equal(sanitizeText(`end${LONE_HIGH}`), "end");
    // Reversed pair: low then high is two lone surrogates, not a character.
    assert.equal(sanitizeText("\uDE00\uD83D"), "");
    // Removing what lies between two lone surrogates must not pair them up into a character.
    assert.equal(sanitizeText(`\uD800${NUL}\uDFFF`), "");
    assert.equal(sanitizeText(`x\uD83D${ch(0xfffe)}\uDE00y`), "xy");
    // A high surrogate followed by a BMP letter is still lone.
    assert.equal(sanitizeText("\uD83Dx"), "x");
  });

  it("keeps astral characters (emoji) whole", () => {
    assert.equal(sanitizeText(`hi ${GRINNING}!`), `hi ${GRINNING}!`);
    assert.equal(sanitizeText(`${LONE_HIGH}${GRINNING}${LONE_LOW}`), GRINNING);
    assert.equal(sanitizeText("\u{10FFFF}\u{1D11E}"), "\u{10FFFF}\u{1D11E}");
  });

  it("keeps characters XML 1.0 allows: DEL, C1 controls, private use, non-Latin scripts", () => {
    const kept = `${ch(0x7f)}${ch(0x85)}${ch(0x9f)}${ch(0xe000)}${ch(0xd7ff)}é中文עברית`;
    assert.equal(sanitizeText(kept), kept);
  });

  it("keeps markup characters: escaping them is the XML writer's job", () => {
    assert.equal(sanitizeText(`<a href="x">&amp;</a>'`), `<a href="x">&amp;</a>'`);
  });

  it("leaves clean text unchanged, including line breaks", () => {
    const text = "Line one\r\nLine two\n\tindented\r";
    assert.equal(sanitizeText(text), text);
  });

  it("always yields XML 1.0 characters only (every BMP code unit)", () => {
    // Each code unit is followed by "." so that no two surrogates pair up.
    let all = "";
    for (let c = 0; c <= 0xffff; c++) all += `${ch(c)}.`;
    const clean = sanitizeText(all);
    assert.match(clean, XML_CHAR);
    // Exactly the forbidden ones went: 29 C0 controls, 2048 surrogates, U+FFFE, U+FFFF.
    assert.equal(clean.length, 0x10000 * 2 - (29 + 2048 + 2));
    assert.ok(!clean.includes(NUL));
  });
});

describe("sanitizeLine", () => {
  it("removes zero-width characters", () => {
    assert.equal(sanitizeLine(`Pay${ch(0x200b)}pal${ch(0x200c)}${ch(0x200d)}${ch(0x2060)}${ch(0xfeff)}`), "Paypal");
  });

  it("removes bidi embedding, override and isolate characters", () => {
    // "invoice\u202Efdp.exe" displays as "invoiceexe.pdf": the override must go.
    assert.equal(sanitizeLine(`invoice${ch(0x202e)}fdp.exe`), "invoicefdp.exe");
    const bidi = [0x200e, 0x200f, 0x202a, 0x202b, 0x202c, 0x202d, 0x202e, 0x2066, 0x2067, 0x2068, 0x2069];
    assert.equal(sanitizeLine(`a${ch(...bidi)}b`), "ab");
  });

  it("folds line breaks and tabs into one space and trims", () => {
    assert.equal(sanitizeLine("  Hello\r\n\tworld\n\nagain  "), "Hello world again");
    assert.equal(sanitizeLine("Subject\r\nBcc: eve@example.net"), "Subject Bcc: eve@example.net");
  });

  it("also applies sanitizeText", () => {
    assert.equal(sanitizeLine(`a${NUL}b${ESC}c${ch(0xfffe)}d${LONE_HIGH}e`), "abcde");
  });

  it("keeps ordinary spaces inside the line, and emoji", () => {
    assert.equal(sanitizeLine(`Alice  Example ${GRINNING}`), `Alice  Example ${GRINNING}`);
  });

  it("is empty for a line made only of invisible characters", () => {
    assert.equal(sanitizeLine(`${ch(0x200b)}\r\n${ch(0x202e)} ${NUL}`), "");
  });
});

describe("neutraliseText", () => {
  it("removes bidi embeddings, overrides and isolates (Trojan Source) and zero-width hiding characters", () => {
    const text = "access: \u2066user\u2069 \u202Enimda\u202C \u202A\u202B\u202D\u2067\u2068pay\u200Bpal\u2060\u2061\u2062\u2063\u2064\uFEFF";
    assert.equal(neutraliseText(text), "access: user nimda paypal");
  });

  it("keeps what scripts need: ZWJ in emoji, ZWNJ in Persian, LRM/RLM/ALM next to right-to-left text", () => {
    for (const text of ["👨\u200D👩\u200D👧", "می\u200Cخواهم", "שלום\u200F (Toto)", "\u200Eabc", "مرحبا\u061C 1"]) {
      assert.equal(neutraliseText(text), text);
    }
  });

  it("also applies sanitizeText and keeps line structure", () => {
    assert.equal(neutraliseText("a\u0000b\n\u202Ec\r\n"), "ab\nc\r\n");
  });
});

describe("sanitizeLine (more invisible characters)", () => {
  it("removes soft hyphens, Hangul fillers, the Mongolian vowel separator and ALM from identity lines", () => {
    assert.equal(sanitizeLine("pay\u00ADpal\u3164\u115F\u1160\uFFA0\u180E\u061C support"), "paypal support");
  });
});

describe("truncateUtf8", () => {
  const bytes = (s: string) => Buffer.byteLength(s, "utf8");

  it("returns text that fits unchanged", () => {
    assert.deepEqual(truncateUtf8("hello", 5), { text: "hello", omittedBytes: 0 });
    assert.deepEqual(truncateUtf8("trailing space ", 100), { text: "trailing space ", omittedBytes: 0 });
    assert.deepEqual(truncateUtf8("", 0), { text: "", omittedBytes: 0 });
  });

  it("cuts at the byte limit when no boundary is near", () => {
    assert.deepEqual(truncateUtf8("abcdefghij", 4), { text: "abcd", omittedBytes: 6 });
    assert.deepEqual(truncateUtf8("hello world", 5), { text: "hello", omittedBytes: 6 });
  });

  it("never splits a multi-byte character", () => {
    // é is 2 bytes: 5 bytes hold two of them.
    assert.deepEqual(truncateUtf8("é".repeat(10), 5), { text: "éé", omittedBytes: 16 });
    // 中 is 3 bytes.
    assert.deepEqual(truncateUtf8("中文字", 5), { text: "中", omittedBytes: 6 });
  });

  it("never splits a surrogate pair", () => {
    for (let max = 4; max < 8; max++) {
      const r = truncateUtf8(GRINNING.repeat(2), max);
      assert.equal(r.text, GRINNING, `max ${max}`);
      assert.equal(r.omittedBytes, 4);
    }
    const r = truncateUtf8(GRINNING, 3);
    assert.deepEqual(r, { text: "", omittedBytes: 4 });
  });

  it("prefers a nearby line break, then a nearby space", () => {
    assert.deepEqual(truncateUtf8("aaaaaaaaaaaaaaaaa\nbbbbbbbbbbb", 20), { text: "aaaaaaaaaaaaaaaaa", omittedBytes: 12 });
    assert.deepEqual(truncateUtf8("aaaaaaaaa bbbbbbbbbbb", 20), { text: "aaaaaaaaa bbbbbbbbbb", omittedBytes: 1 });
    assert.deepEqual(truncateUtf8("aaaaaaaaaaaaaaaaaaa bbbb", 21), { text: "aaaaaaaaaaaaaaaaaaa", omittedBytes: 5 });
    // A space further back than the last tenth is not worth losing that much text: hard cut.
    assert.deepEqual(truncateUtf8("aaaaaaaaaaaaaaaaaaa bbbb", 22), { text: "aaaaaaaaaaaaaaaaaaa bb", omittedBytes: 2 });
  });

  it("prefers a paragraph end in the last quarter over a later line or word", () => {
    const text = `${"a".repeat(80)}\n\n${"b".repeat(10)}\n${"c ".repeat(20)}`;
    assert.deepEqual(truncateUtf8(text, 100).text, "a".repeat(80));
    // A paragraph end too far back: the last line break in the last fifth wins.
    const far = `${"a".repeat(10)}\n\n${"b".repeat(80)}\n${"c ".repeat(20)}`;
    assert.deepEqual(truncateUtf8(far, 100).text, `${"a".repeat(10)}\n\n${"b".repeat(80)}`);
  });

  it("drops trailing whitespace of the kept part", () => {
    assert.deepEqual(truncateUtf8("abc   defghijklmnop", 6), { text: "abc", omittedBytes: 16 });
  });

  it("keeps within the limit and accounts for every byte", () => {
    const text = `Bonjour ${GRINNING} à tous,\nvoici un texte assez long, é中${GRINNING} fin.\n`.repeat(7);
    for (let max = 0; max < bytes(text) + 2; max += 3) {
      const r = truncateUtf8(text, max);
      assert.ok(bytes(r.text) <= max, `max ${max}`);
      assert.equal(bytes(r.text) + r.omittedBytes, bytes(text), `max ${max}`);
      assert.ok(text.startsWith(r.text), `max ${max}`);
      assert.match(r.text, XML_CHAR);
    }
  });
});
