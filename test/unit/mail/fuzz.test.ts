// A seeded MIME mutation fuzzer: well-formed mails of every shape the gateway meets, broken by
// byte flips, hostile insertions, cuts and duplications. parseMail and mailToChat must never throw and never
// let an XML-forbidden character through (invariant 3), and the chat body stays within its budget.
// Bounded for CI; FUZZ_RUNS and FUZZ_SEED widen or move the search (a failure prints its seed and path).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { mailToChat } from "../../../src/core/translate.ts";
import type { ParsedMail } from "../../../src/core/types.ts";
import { parseMail } from "../../../src/mail/parse.ts";

const RUNS = Number(process.env.FUZZ_RUNS ?? 300);
const SEED = Number(process.env.FUZZ_SEED ?? 6_2025);
const XML_FORBIDDEN = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;
const MAX_BODY = 4096;

const crlf = (s: string) => s.replace(/\r?\n/g, "\r\n");
const b64 = (s: string | Buffer) => Buffer.from(s).toString("base64").replace(/.{76}/g, "$&\r\n");

/** Seeds: each a mail a real client would send, covering the MIME features the parser walks. */
const CORPUS: Buffer[] = [
  crlf(`From: =?utf-8?q?Al=C3=AFce?= <alice@example.com>\nTo: toto@jabber.test\nSubject: =?utf-8?b?${b64("Déjeuner ✓")}?=
Date: Tue, 1 Jul 2025 10:00:00 +0200\nMessage-ID: <a1@example.com>\nMIME-Version: 1.0
Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: quoted-printable

Bonjour =C3=A0 toi,=0Asoft line=\nbreak, caf=C3=A9.
`),
  crlf(`From: Bob <bob@example.org>\nSubject: alternative\nMIME-Version: 1.0
Content-Type: multipart/alternative; boundary="alt1"

--alt1
Content-Type: text/plain; charset=iso-8859-1
Content-Transfer-Encoding: 8bit

caf\xe9 au lait
--alt1
Content-Type: text/html; charset=utf-8

<html><body><p>caf&eacute; <b>au</b> lait</p><script>alert(1)</script></body></html>
--alt1--
`),
  crlf(`From: carol@example.net\nSubject: attachment\nMIME-Version: 1.0
Content-Type: multipart/mixed; boundary=mix

--mix
Content-Type: text/plain

see attached
--mix
Content-Type: application/pdf; name="r\xe9sum\xe9.pdf"
Content-Disposition: attachment; filename*=utf-8''r%C3%A9sum%C3%A9%00.pdf
Content-Transfer-Encoding: base64

${b64(Buffer.from([0x25, 0x50, 0x44, 0x46, 0x00, 0x1b, 0xff, 0xfe]))}
--mix
Content-Type: message/rfc822

From: inner@example.com
Subject: forwarded

inner body
--mix--
`),
  crlf(`From: news@example.com\nSubject: html only\nContent-Type: text/html; charset=utf-8
Content-Transfer-Encoding: base64

${b64('<html><head><style>p{color:red}</style></head><body><h1>Title</h1><table><tr><td>a</td><td>b</td></tr></table><img src="https://t.example/p.gif"><a href="https://example.com">link</a></body></html>')}
`),
  crlf(`From: "D\xfcrer" <d@example.de>\nSubject: =?x-unknown?q?strange=20charset?= and raw \xff\xfe bytes
Content-Type: multipart/related; boundary="rel"

--rel
Content-Type: multipart/alternative; boundary="inner"

--inner
Content-Type: text/plain; charset=x-no-such-charset
Content-Transfer-Encoding: x-uuencode

begin 644 a.txt
--inner--
--rel
Content-Type: image/png
Content-ID: <img1>
Content-Transfer-Encoding: base64

iVBORw0KGgo!!!broken base64===
--rel--
`),
].map((s) => Buffer.from(s, "latin1"));

/** Byte strings that make parsers take unusual paths. */
const TOKENS = [
  "\x00", "\x1b", "\r", "\n", "\r\n", "\r\n\r\n", "\xff\xfe", "\xef\xbf\xbe", "\xed\xa0\x80", "\xc3", "=", "=0", "=?", "?=",
  "=?utf-8?q?a=00b=1Bc?=", "=?utf-8?b?7aCA?=", "=?utf-8?q?=EF=BF=BE?=", "=?utf-7?q?+AGEAYgBj-?=", "=?x-bogus?b?////?=",
  "\r\n--mix\r\n", "\r\n--alt1--\r\n", "\r\n--rel\r\nContent-Type: multipart/mixed; boundary=rel\r\n\r\n",
  "Content-Type: multipart/mixed; boundary=\"\"\r\n", "Content-Transfer-Encoding: base64\r\n", "Content-Type: text/html\r\n",
  "; charset=utf-16", "; charset=\"", "filename*0*=utf-8''%00%1B;", "\u202e", "\u200b", "&#0;&#xFFFE;&#xD800;", "<script>",
  "<p>\x01\x02</p>", "\t", " ", "\\", "\"",
].map((t) => Buffer.from(t, "latin1"));

type Mutation = (raw: Buffer) => Buffer;
const at = (n: number, raw: Buffer) => (raw.length === 0 ? 0 : n % (raw.length + 1));

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })).map(([p, byte]): Mutation => (raw) => {
    const out = Buffer.from(raw);
    if (out.length > 0) out[p % out.length] = byte;
    return out;
  }),
  fc.tuple(fc.nat(), fc.nat({ max: TOKENS.length - 1 }), fc.integer({ min: 1, max: 3 })).map(([p, t, times]): Mutation => (raw) => {
    const i = at(p, raw);
    return Buffer.concat([raw.subarray(0, i), ...Array<Buffer>(times).fill(TOKENS[t]!), raw.subarray(i)]);
  }),
  fc.tuple(fc.nat(), fc.nat({ max: 200 })).map(([p, len]): Mutation => (raw) => {
    const i = at(p, raw);
    return Buffer.concat([raw.subarray(0, i), raw.subarray(i + len)]);
  }),
  fc.tuple(fc.nat(), fc.nat({ max: 300 }), fc.integer({ min: 1, max: 20 })).map(([p, len, times]): Mutation => (raw) => {
    const i = at(p, raw);
    const piece = raw.subarray(i, i + len);
    return Buffer.concat([raw.subarray(0, i), ...Array<Buffer>(times).fill(piece), raw.subarray(i)]);
  }),
  fc.nat().map((p): Mutation => (raw) => raw.subarray(0, at(p, raw))),
  fc.constant<Mutation>((raw) => Buffer.from(raw.toString("latin1").replace(/\r\n/g, "\n"), "latin1")),
);

const mutatedMail = fc.tuple(fc.nat({ max: CORPUS.length - 1 }), fc.array(mutation, { minLength: 1, maxLength: 8 }))
  .map(([seed, mutations]) => mutations.reduce((raw, m) => m(raw), CORPUS[seed]!));

function assertClean(parsed: ParsedMail): void {
  for (const s of [parsed.subject, parsed.fromAddress, parsed.fromName, parsed.messageId, parsed.text,
    ...(parsed.references ?? []), ...parsed.attachments.flatMap((a) => [a.filename, a.contentType])]) {
    if (s !== null) assert.doesNotMatch(s, XML_FORBIDDEN, JSON.stringify(s).slice(0, 200));
  }
}

describe("MIME mutation fuzzer", () => {
  it("the unmutated corpus parses into clean, readable mail", async () => {
    for (const raw of CORPUS) {
      const parsed = await parseMail(raw);
      assertClean(parsed);
      assert.ok(parsed.subject !== "", "every seed has a subject");
      assert.doesNotMatch(parsed.text, /could not be decoded/);
    }
  });

  it(`parseMail and mailToChat never throw nor emit an XML-forbidden character (${RUNS} seeded cases)`, async () => {
    await fc.assert(fc.asyncProperty(mutatedMail, async (raw) => {
      const parsed = await parseMail(raw);
      assertClean(parsed);
      const chat = mailToChat({ mail: parsed, id: "f.1", fromJid: "a\\40b.example@mail.example.org", toJid: "toto@example.org",
        acceptedAt: new Date(0), now: new Date(0), maxBodyBytes: MAX_BODY });
      assert.doesNotMatch(chat.body, XML_FORBIDDEN);
      assert.ok(Buffer.byteLength(chat.body) <= MAX_BODY);
      if (chat.nick !== null) assert.doesNotMatch(chat.nick, XML_FORBIDDEN);
    }), { seed: SEED, numRuns: RUNS });
  });
});
