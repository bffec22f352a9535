// Parsing raw mail (mailparser + html-to-text): never throws on content, output is free of XML-forbidden characters.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { htmlToText, parseMail, ParseTimeoutError } from "../../../src/mail/parse.ts";
import type { ParsedMail } from "../../../src/core/types.ts";

/** A raw mail from lines written with LF, sent with CRLF; latin1 so that \xNN escapes become single bytes. */
const raw = (text: string) => Buffer.from(text.replace(/\r?\n/g, "\r\n"), "latin1");
const bytes = (...values: number[]) => Buffer.from(values);
const FFFD = "\uFFFD";
const XML_CHAR = /^[\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]*$/u;

/** Every string of a ParsedMail is allowed in XML 1.0 and in Postgres text (docs/design.md §Invariants, 3). */
function assertClean(mail: ParsedMail): void {
  const strings = [mail.subject, mail.fromAddress, mail.fromName, mail.messageId, mail.text,
    ...mail.attachments.flatMap((a) => [a.filename, a.contentType])];
  for (const s of strings) if (s !== null) assert.match(s, XML_CHAR);
}

describe("parseMail", () => {
  it("reads a plain text mail", async () => {
    const mail = await parseMail(raw(
      `From: "Alice Example" <alice@example.com>
To: toto@jabber.example.org
Subject: Hello there
Message-ID: <abc@example.com>
Date: Tue, 02 Jan 2024 03:04:05 +0100

Hi Toto,
see you.
`));
    assert.deepEqual(mail, {
      subject: "Hello there",
      fromAddress: "alice@example.com",
      fromName: "Alice Example",
      messageId: "<abc@example.com>",
      references: [],
      date: new Date("2024-01-02T02:04:05.000Z"),
      text: "Hi Toto,\nsee you.\n",
      fromHtml: false,
      attachments: [],
      automatic: false,
      listId: null,
    });
  });

  it("takes the text/plain part of multipart/alternative", async () => {
    const mail = await parseMail(raw(
      `From: alice@example.com
Subject: alt
MIME-Version: 1.0
Content-Type: multipart/alternative; boundary="b1"

--b1
Content-Type: text/plain; charset=utf-8

plain version
--b1
Content-Type: text/html; charset=utf-8

<p>html <b>version</b></p>
--b1--
`));
    assert.equal(mail.text, "plain version");
    assert.equal(mail.fromHtml, false);
    assert.equal(mail.date, null);
    assert.equal(mail.fromName, null);
  });

  it("turns HTML-only mail into readable text without tags, scripts, styles or tracking pixels", async () => {
    const mail = await parseMail(raw(
      `From: news@example.com
Subject: html
MIME-Version: 1.0
Content-Type: text/html; charset=utf-8

<html><head><style>p { color: red }</style><script>alert('x')</script></head>
<body><h1>Title</h1><p>Hello &amp; welcome <a href="https://example.com/x">link</a></p>
<img src="https://track.example.com/p.gif" width="1" height="1"><script>evil()</script></body></html>
`));
    assert.equal(mail.fromHtml, true);
    assert.equal(mail.text, "Title\n\nHello & welcome link [https://example.com/x]");
  });

  it("decodes Latin-1 quoted-printable text and RFC 2047 words", async () => {
    const mail = await parseMail(raw(
      `From: =?iso-8859-1?q?Ren=E9_Dupr=E9?= <rene@example.fr>
Subject: =?iso-8859-1?q?caf=E9?= =?utf-8?b?Y3LDqG1l?=
MIME-Version: 1.0
Content-Type: text/plain; charset=iso-8859-1
Content-Transfer-Encoding: quoted-printable

Caf=E9 cr=E8me, tr=E8s =
long line
`));
    assert.equal(mail.subject, "cafécrème");
    assert.equal(mail.fromName, "René Dupré");
    assert.equal(mail.text, "Café crème, très long line\n");
  });

  it("reads raw UTF-8 in headers (RFC 6532)", async () => {
    const mail = await parseMail(Buffer.from("From: Jérôme <jérôme@exämple.fr>\r\nSubject: Grüße 😀\r\n\r\nok\r\n", "utf8"));
    assert.equal(mail.subject, "Grüße 😀");
    assert.equal(mail.fromName, "Jérôme");
    assert.equal(mail.fromAddress, "jérôme@exämple.fr");
  });

  it("drops an ESC smuggled in an encoded subject (=?utf-8?q?a=1Bb?=)", async () => {
    const mail = await parseMail(raw("From: alice@example.com\nSubject: =?utf-8?q?a=1Bb?=\n\nbody\n"));
    assert.equal(mail.subject, "ab");
    assert.ok(!mail.subject.includes(String.fromCharCode(0x1b)));
  });

  it("drops controls, NUL, U+FFFE and lone surrogates from the decoded body", async () => {
    // \x01, NUL and ESC as raw bytes; U+FFFE as UTF-8 (EF BF BE); a lone surrogate as CESU bytes (ED A0 80).
    const mail = await parseMail(Buffer.concat([
      raw("From: alice@example.com\nSubject: nul\nContent-Type: text/plain; charset=utf-8\n\nbe"),
      bytes(0x00, 0x01, 0x1b), Buffer.from("fo"), bytes(0xef, 0xbf, 0xbe), Buffer.from("re"), bytes(0xed, 0xa0, 0x80),
      raw("\nafter\n"),
    ]));
    assertClean(mail);
    assert.equal(mail.text.replaceAll(FFFD, ""), "before\nafter\n");
  });

  it("drops controls from the display name and zero-width or bidi characters from subject and name", async () => {
    const mail = await parseMail(raw(
      "From: =?utf-8?q?Bob=00=E2=80=AE_Smith?= <bob@example.com>\nSubject: =?utf-8?q?Pay=E2=80=8Bpal_=E2=80=AEinvoice?=\n\nhi\n"));
    assert.equal(mail.fromName, "Bob Smith");
    assert.equal(mail.subject, "Paypal invoice");
  });

  it("reads invalid UTF-8 in an 8-bit header as windows-1252 (what mail programs do)", async () => {
    const mail = await parseMail(Buffer.concat([
      raw("From: alice@example.com\nSubject: caf"), bytes(0xe9, 0xff), raw(" ok\n\nbody\n"),
    ]));
    assertClean(mail);
    assert.equal(mail.subject, "café\u00ff ok");
    assert.equal(mail.text, "body\n");
  });

  it("reads invalid UTF-8 in a body as best-effort text with U+FFFD", async () => {
    const mail = await parseMail(Buffer.concat([
      raw("From: alice@example.com\nSubject: u8\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\nab"),
      bytes(0xc3, 0x28, 0xff), raw("cd\n"),
    ]));
    assert.equal(mail.text, `ab${FFFD}(${FFFD}cd\n`);
  });

  it("reads an unknown charset as best effort", async () => {
    const mail = await parseMail(raw(
      "From: alice@example.com\nSubject: =?x-no-such?q?hi?=\nContent-Type: text/plain; charset=x-no-such-charset\n\nhello world\n"));
    assertClean(mail);
    assert.equal(mail.text, "hello world\n");
  });

  it("reads an unknown transfer encoding as best effort", async () => {
    const mail = await parseMail(raw(
      "From: alice@example.com\nSubject: cte\nContent-Type: text/plain\nContent-Transfer-Encoding: x-weird\n\nhello\n"));
    assert.equal(mail.text, "hello\n");
  });

  it("decodes what it can of broken base64", async () => {
    const mail = await parseMail(raw(
      "From: alice@example.com\nSubject: b64\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: base64\n\naGVsbG8gd29ybGQ!!!*&^%\n"));
    assert.equal(mail.text, "hello world");
  });

  it("decodes what it can of broken quoted-printable", async () => {
    const mail = await parseMail(raw(
      "From: alice@example.com\nSubject: qp\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: quoted-printable\n\na=ZZb=C3=A9=\n"));
    assertClean(mail);
    assert.ok(mail.text.startsWith("a") && mail.text.includes("b\u00e9"), JSON.stringify(mail.text));
  });

  it("lists attachments with name, type and decoded size", async () => {
    const mail = await parseMail(raw(
      `From: alice@example.com
Subject: att
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="m"

--m
Content-Type: text/plain

see attached
--m
Content-Type: application/pdf; name="r.pdf"
Content-Disposition: attachment; filename="r.pdf"
Content-Transfer-Encoding: base64

JVBERi0xLjQK
--m
Content-Type: application/octet-stream
Content-Disposition: attachment; filename="=?utf-8?q?evil=E2=80=AEfdp.exe?="

xyz
--m--
`));
    assert.equal(mail.text, "see attached");
    assert.deepEqual(mail.attachments, [
      { filename: "r.pdf", contentType: "application/pdf", size: 9 },
      { filename: "evilfdp.exe", contentType: "application/octet-stream", size: 3 },
    ]);
  });

  it("takes the first address of a From with several", async () => {
    const mail = await parseMail(raw("From: Alice <alice@example.com>, bob@example.com\nSubject: x\n\nhi\n"));
    assert.equal(mail.fromAddress, "alice@example.com");
    assert.equal(mail.fromName, "Alice");
  });

  it("has null sender fields when there is no From", async () => {
    const mail = await parseMail(raw("Subject: x\n\nhi\n"));
    assert.equal(mail.fromAddress, null);
    assert.equal(mail.fromName, null);
    assert.equal(mail.messageId, null);
  });

  it("has no date for an unparseable Date header",
    async () => {
      const mail = await parseMail(raw("From: a@example.com\nDate: not a date\nSubject: d\n\nx\n"));
      assert.equal(mail.date, null);
    });

  it("survives empty input and binary garbage", async () => {
    const empty = await parseMail(Buffer.alloc(0));
    assert.deepEqual(empty, {
      subject: "", fromAddress: null, fromName: null, messageId: null, references: [], date: null, text: "", fromHtml: false, attachments: [],
      automatic: false, listId: null,
    });
    const garbage = await parseMail(bytes(0xff, 0xfe, 0x00, 0x01, 0x02, 0x1b, 0x0a, 0xc3));
    assertClean(garbage);
    assert.equal(garbage.subject, "");
  });

  it("reads deeply nested multiparts", async () => {
    let text = "From: a@example.com\r\nSubject: nest\r\nMIME-Version: 1.0\r\n";
    const depth = 300;
    for (let i = 0; i < depth; i++) text += `Content-Type: multipart/mixed; boundary="b${i}"\r\n\r\n--b${i}\r\n`;
    text += "Content-Type: text/plain\r\n\r\ndeep text\r\n";
    for (let i = depth - 1; i >= 0; i--) text += `--b${i}--\r\n`;
    const mail = await parseMail(Buffer.from(text));
    assert.equal(mail.subject, "nest");
    assert.equal(mail.text, "deep text");
  });

  it("reads forwarded messages (message/rfc822) into the text, two levels deep at most", async () => {
    const wrap = (subject: string, inner: string) => `From: ${subject.toLowerCase()}@example.com
Subject: ${subject}
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="${subject}"

--${subject}
Content-Type: text/plain

text of ${subject}
--${subject}
Content-Type: message/rfc822

${inner}
--${subject}--
`;
    const mail = await parseMail(raw(wrap("Outer", wrap("Middle", wrap("Inner", "From: core@example.com\nSubject: Core\n\ncore text\n")))));
    assert.equal(mail.text, [
      "text of Outer",
      "---------- Forwarded message ----------\nFrom: middle@example.com\nSubject: Middle",
      "text of Middle",
      "---------- Forwarded message ----------\nFrom: inner@example.com\nSubject: Inner",
      "text of Inner",
    ].join("\n\n"));
  });

  it("puts a calendar invitation's summary before the text, once", async () => {
    const ics = "BEGIN:VCALENDAR\nMETHOD:REQUEST\nBEGIN:VEVENT\nSUMMARY:Standup\nDTSTART:20261203T150000Z\nEND:VEVENT\nEND:VCALENDAR\n";
    const mail = await parseMail(raw(`From: a@example.com
Subject: Invitation
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="m"

--m
Content-Type: text/plain

Join us.
--m
Content-Type: text/calendar; method=REQUEST

${ics}
--m
Content-Type: application/octet-stream; name="invite.ics"

${ics}
--m--
`));
    assert.equal(mail.text, "Invitation: Standup\nWhen: Thu 2026-12-03 15:00 (UTC)\n\nJoin us.");
  });

  it("classifies list and automatic mail from its headers, folded or not", async () => {
    const list = await parseMail(raw("From: a@example.com\nList-Id: Developers\n <dev.lists.example.org>\nSubject: s\n\nx\n"));
    assert.deepEqual([list.automatic, list.listId], [true, "dev.lists.example.org"]);
    const auto = await parseMail(raw("From: a@example.com\nAuto-Submitted: auto-replied\nSubject: s\n\nx\n"));
    assert.deepEqual([auto.automatic, auto.listId], [true, null]);
    const person = await parseMail(raw("From: a@example.com\nSubject: s\n\nx\n"));
    assert.deepEqual([person.automatic, person.listId], [false, null]);
  });

  it("raises ParseTimeoutError when parsing takes longer than allowed", async () => {
    const big = raw(`From: a@example.com\nSubject: big\n\n${`${"x".repeat(998)}\n`.repeat(4000)}`);
    await assert.rejects(parseMail(big, 1), (err: unknown) => {
      assert.ok(err instanceof ParseTimeoutError);
      assert.equal(err.name, "ParseTimeoutError");
      assert.match(err.message, /longer than 1 ms/);
      return true;
    });
  });
});

describe("htmlToText", () => {
  it("keeps a link target once, drops images, keeps headings' case", () => {
    assert.equal(htmlToText('<h2>News</h2><p><a href="https://example.com">https://example.com</a> <img src="x.png" alt="pixel"></p>'),
      "News\n\nhttps://example.com");
  });

  it("writes layout tables (role=presentation) as blocks, data tables unwrapped with header cells as written", () => {
    const long = "word ".repeat(30).trim();
    assert.equal(htmlToText(`<table role="presentation"><tr><td><p>${long}</p></td><td>side</td></tr></table>`), `${long}\n\nside`);
    assert.equal(htmlToText(`<table><tr><th>Item</th><th>Note</th></tr><tr><td>Tea</td><td>${long}</td></tr></table>`),
      `Item   Note\nTea    ${long}`);
  });

  it("decodes entities and writes table cells in rows", () => {
    const text = htmlToText("<p>a &lt;b&gt; &amp; c&nbsp;d</p><table><tr><td>x</td><td>y</td></tr><tr><td>1</td><td>2</td></tr></table>");
    assert.ok(text.startsWith("a <b> & c\u00a0d\n\n"), JSON.stringify(text));
    assert.match(text, /x +y\n1 +2/);
    assert.doesNotMatch(text, /<\/?(p|td|tr|table)>/);
  });
});

describe("parseMail on a very long text", () => {
  it("keeps at most 1 MiB of text for the chat, saying how much more the full mail has", async () => {
    const line = `${"x".repeat(76)}\r\n`;
    const raw = Buffer.from(`Subject: long\r\nFrom: a@example.com\r\n\r\n${line.repeat(40_000)}`);
    const parsed = await parseMail(raw);
    assert.ok(Buffer.byteLength(parsed.text) <= 1024 * 1024, String(Buffer.byteLength(parsed.text)));
    assert.match(parsed.text, /\n\n\[… 1\.9 MiB more of this text in the full mail\]$/);
  });
});
