// A mail's page text from its stored parts: each text part's byte range decoded as mailparser reads it.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { simpleParser } from "mailparser";
import { readMail } from "../../../src/mail/parse.ts";
import { readMailView, type PageSource } from "../../../src/web/view.ts";

const PNG = Buffer.from("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==", "base64");

const RAW = Buffer.from([
  "From: Alice Example <alice@example.com>",
  "To: toto@jabber.test, Bob <bob@jabber.test>",
  "Cc: carol@example.org",
  "Subject: =?utf-8?q?R=C3=A9union?=",
  "Date: Tue, 1 Dec 2026 10:00:00 +0100",
  "MIME-Version: 1.0",
  'Content-Type: multipart/mixed; boundary="outer"',
  "",
  "--outer",
  'Content-Type: multipart/related; boundary="rel"',
  "",
  "--rel",
  'Content-Type: multipart/alternative; boundary="alt"',
  "",
  "--alt",
  "Content-Type: text/plain; charset=utf-8",
  "",
  "See the logo.",
  "--alt",
  "Content-Type: text/html; charset=utf-8",
  "",
  '<p>See the <img src="cid:logo@example.com"> logo.</p>',
  "--alt--",
  "--rel",
  "Content-Type: image/png",
  "Content-Transfer-Encoding: base64",
  "Content-ID: <logo@example.com>",
  'Content-Disposition: inline; filename="logo.png"',
  "",
  PNG.toString("base64"),
  "--rel--",
  "--outer",
  'Content-Type: application/pdf; name="notes.pdf"',
  "Content-Transfer-Encoding: base64",
  'Content-Disposition: attachment; filename="notes.pdf"',
  "",
  Buffer.from("%PDF-1.4 tiny").toString("base64"),
  "--outer--",
  "",
].join("\r\n"));

/** What the page pool is sent for RAW: the fields intake stored, the text parts' bytes from their ranges. */
async function source(raw: Buffer): Promise<PageSource> {
  const { mail, structure } = await readMail(raw);
  const texts = structure!.parts.filter((p) => p.attachment === undefined && /^text\/(plain|html)$/.test(p.contentType))
    .map((part) => ({ part, body: new Uint8Array(raw.subarray(part.start, part.end)) }));
  return { token: "t", texts, view: { subject: mail.subject, from: structure!.from, to: structure!.to, cc: structure!.cc,
    date: structure!.date.trim(), attachments: [] } };
}

describe("readMailView", () => {
  it("gives both bodies from their byte ranges, cid: URLs kept for the page to rewrite", async () => {
    const src = await source(RAW);
    assert.equal(src.view.from, '"Alice Example" <alice@example.com>');
    assert.equal(src.view.to, 'toto@jabber.test, "Bob" <bob@jabber.test>');
    assert.equal(src.view.cc, "carol@example.org");
    assert.equal(src.view.date, "Tue, 1 Dec 2026 10:00:00 +0100");
    const view = readMailView(src);
    assert.equal(view.text.trim(), "See the logo.");
    assert.match(view.html, /<img src="cid:logo@example.com">/);
  });

  it("decodes each text part's transfer encoding and charset, and unfolds format=flowed (RFC 3676)", async () => {
    for (const [file, expected] of [["05-latin1-quoted-printable.eml", /é|è|à/], ["06-iso-2022-jp.eml", /[\u3040-\u30ff\u4e00-\u9fff]/],
      ["07-base64-utf8.eml", /[^\x00-\x7f]/]] as const) {
      const raw = readFileSync(new URL(`../../corpus/${file}`, import.meta.url));
      const view = readMailView(await source(raw));
      assert.match(view.text, expected, file);
      assert.equal(view.text.trim(), (await simpleParser(raw)).text?.replace(/\r?\n/g, "\n").trim(), file);
    }
    for (const file of ["08-format-flowed.eml", "09-format-flowed-delsp.eml"]) {
      const flowed = readFileSync(new URL(`../../corpus/${file}`, import.meta.url));
      assert.equal(readMailView(await source(flowed)).text.trim(), (await simpleParser(flowed)).text?.trim(), file);
    }
  });
});
