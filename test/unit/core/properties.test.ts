// Property-based tests for the pure core: the identity rule (docs/design.md §Contract, Addressing), the one
// sanitizer (invariant 3) and mail → chat translation. Seeded, so a failure reproduces; fast-check prints
// the seed and the shrunk counterexample.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  addressToJid, escapeLocalpart, jidToAddress, parseBareJid, parseMailAddress, unescapeLocalpart,
} from "../../../src/core/addresses.ts";
import { sanitizeLine, sanitizeText, truncateUtf8 } from "../../../src/core/sanitize.ts";
import { mailToChat } from "../../../src/core/translate.ts";
import type { ParsedMail } from "../../../src/core/types.ts";

const GW = "mail.jabber.example.org";
const RUNS = { seed: 20251125, numRuns: 500 };
/** XML 1.0 §2.2 Char, negated: what must never reach a stanza (NUL included). */
const XML_FORBIDDEN = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;

/** Any UTF-16 code unit (lone surrogates included), weighted towards the troublesome ones. */
const codeUnit = fc.oneof(
  fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)),
  fc.constantFrom("\u0000", "\u0001", "\u001b", "\u007f", "\ufffe", "\uffff", "\ud800", "\udfff", "\u200b", "\u202e",
    "\ufeff", "\t", "\r", "\n", " ", "\\", "@", "%", '"', "&", "'", "/", ":", "<", ">"),
  fc.constantFrom("a", "b", "é", "😀", "\\40", "\\5c", "\\20"),
);
const hostile = fc.array(codeUnit, { maxLength: 60 }).map((parts) => parts.join(""));
const anyString = fc.oneof(hostile, fc.string({ unit: "binary", maxLength: 60 }));

/** Local parts as mail really has them: atext, dots, the XEP-0106 characters, quoted strings, UTF-8. */
const localPart = fc.oneof(
  fc.stringMatching(/^[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~.]{1,30}$/),
  fc.array(fc.constantFrom("a", "Z", "0", ".", "&", "'", "/", "%", "+", "\\", "é", "ü", "日"), { minLength: 1, maxLength: 20 })
    .map((p) => p.join("")),
  fc.stringMatching(/^"[ a-z@:<>\\\\"]{0,12}"$/).map((q) => q.replace(/(?<!^)"(?!$)/g, '\\"')),
);
const domainName = fc.oneof(fc.domain(), fc.constantFrom("example.com", "EXAMPLE.org", "bücher.example", "a-b.c0.example"));
const address = fc.tuple(localPart, domainName).map(([l, d]) => `${l}@${d}`).filter((a) => parseMailAddress(a) !== null);

describe("addresses (XEP-0106, docs/design.md §Contract, Addressing)", () => {
  it("unescapeLocalpart(escapeLocalpart(s)) === s for any string", () => {
    fc.assert(fc.property(anyString, (s) => unescapeLocalpart(escapeLocalpart(s)) === s), RUNS);
  });

  it("the escaped form holds none of the characters XEP-0106 §3.2 forbids in a localpart", () => {
    fc.assert(fc.property(anyString, (s) => !/[ "&'/:<>@]/.test(escapeLocalpart(s))), RUNS);
  });

  it("an address survives address → JID → address, but for case (the JID is case-folded, RFC 7622 §3.3)", () => {
    fc.assert(fc.property(address, (a) => {
      const jid = addressToJid(a as never, GW);
      assert.equal(jid.split("@").length, 2, "one @ in the JID: the domain is ours");
      assert.equal(jidToAddress(jid, GW), a.toLowerCase());
      assert.equal(jidToAddress(`${jid}/resource`, GW.toUpperCase()), a.toLowerCase(), "resource and domain case ignored");
    }), RUNS);
  });

  it("the old transport form local%domain@gateway reads as the same address (split on the last %)", () => {
    fc.assert(fc.property(address, (a) => {
      const at = a.lastIndexOf("@");
      const percent = `${escapeLocalpart(`${a.slice(0, at)}%${a.slice(at + 1)}`)}@${GW}`;
      assert.equal(jidToAddress(percent, GW), a);
    }), RUNS);
  });

  it("validation never throws, and what it accepts has one domain and no controls", () => {
    fc.assert(fc.property(anyString, anyString, (s, t) => {
      const parsed = parseMailAddress(s);
      if (parsed !== null) assert.doesNotMatch(parsed, /[\u0000-\u001f\u007f]/);
      jidToAddress(s, GW);
      jidToAddress(`${s}@${GW}`, GW);
      jidToAddress(`${s}@${t}`, t);
      const bare = parseBareJid(s);
      if (bare !== null) assert.doesNotMatch(bare, /[\s/]/u);
      const fromJid = jidToAddress(`${escapeLocalpart(s)}@${GW}`, GW);
      // Only a valid address comes back out of a JID, never a list or a header (invariant 5).
      if (fromJid !== null) assert.equal(parseMailAddress(fromJid), fromJid);
    }), RUNS);
  });
});

describe("sanitize (invariant 3)", () => {
  it("sanitizeText leaves no XML-forbidden character and no NUL, keeps every allowed one, and is idempotent", () => {
    fc.assert(fc.property(anyString, (s) => {
      const clean = sanitizeText(s);
      assert.doesNotMatch(clean, XML_FORBIDDEN);
      assert.equal(sanitizeText(clean), clean);
      // Only forbidden characters go: the allowed ones stay, in order.
      assert.equal(clean, [...s].filter((c) => !XML_FORBIDDEN.test(c)).join(""));
    }), RUNS);
  });

  it("sanitizeLine gives one trimmed line, no invisible formatting characters, and is idempotent", () => {
    fc.assert(fc.property(anyString, (s) => {
      const line = sanitizeLine(s);
      assert.doesNotMatch(line, XML_FORBIDDEN);
      assert.doesNotMatch(line, /[\t\r\n\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]/);
      assert.equal(line, line.trim());
      assert.equal(sanitizeLine(line), line);
    }), RUNS);
  });

  it("truncateUtf8 fits the byte budget, never splits a character, and counts what it left out", () => {
    fc.assert(fc.property(fc.string({ unit: "grapheme", maxLength: 200 }), fc.nat({ max: 400 }), (s, max) => {
      const { text, omittedBytes } = truncateUtf8(s, max);
      assert.ok(Buffer.byteLength(text) <= max);
      assert.ok(s.startsWith(text));
      assert.doesNotMatch(text, XML_FORBIDDEN, "no half surrogate pair");
      assert.equal(omittedBytes, Buffer.byteLength(s) - Buffer.byteLength(text));
    }), RUNS);
  });
});

const parsedMail: fc.Arbitrary<ParsedMail> = fc.record({
  subject: anyString,
  fromAddress: fc.option(anyString),
  fromName: fc.option(fc.oneof(anyString, fc.tuple(anyString, fc.integer({ min: 1, max: 500 })).map(([s, n]) => s.repeat(n)))),
  messageId: fc.option(anyString),
  date: fc.constant(null),
  // Long texts by repetition: generating (and shrinking) 40,000 random characters is slow.
  text: fc.oneof(anyString, fc.tuple(hostile, fc.integer({ min: 1, max: 3000 })).map(([s, n]) => s.repeat(n))),
  fromHtml: fc.boolean(),
  attachments: fc.array(fc.record({
    filename: fc.option(fc.oneof(anyString, fc.tuple(anyString, fc.integer({ min: 1, max: 100 })).map(([s, n]) => s.repeat(n)))),
    contentType: anyString,
    size: fc.nat(),
  }), { maxLength: 60 }),
});

describe("mailToChat", () => {
  it("keeps the body within maxBodyBytes, with no XML-forbidden character in body or nick", () => {
    fc.assert(fc.property(parsedMail, fc.integer({ min: 1, max: 262_144 }), (mail, maxBodyBytes) => {
      const chat = mailToChat({ mail, id: "m.1", fromJid: `a\\40b.example@${GW}`, toJid: "toto@example.org",
        acceptedAt: new Date(0), now: new Date(0), maxBodyBytes });
      assert.ok(Buffer.byteLength(chat.body) <= maxBodyBytes, `${Buffer.byteLength(chat.body)} > ${maxBodyBytes}`);
      assert.doesNotMatch(chat.body, XML_FORBIDDEN);
      if (chat.nick !== null) {
        assert.doesNotMatch(chat.nick, XML_FORBIDDEN);
        assert.ok(Buffer.byteLength(chat.nick) <= 1024, "a display name, not a payload");
      }
    }), { ...RUNS, numRuns: 300 });
  });
});
