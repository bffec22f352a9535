// Reading a stored mail again for its page: the same attachments in the same order as at acceptance.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { parseMail } from "../../../src/mail/parse.ts";
import { readMailView } from "../../../src/web/view.ts";

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

describe("readMailView", () => {
  it("gives the headers, both bodies and the attachments with their Content-ID and bytes", async () => {
    const view = await readMailView(RAW);
    assert.equal(view.subject, "Réunion");
    assert.equal(view.from, '"Alice Example" <alice@example.com>');
    assert.equal(view.to, 'toto@jabber.test, "Bob" <bob@jabber.test>');
    assert.equal(view.cc, "carol@example.org");
    assert.equal(view.date, "Tue, 1 Dec 2026 10:00:00 +0100");
    assert.equal(view.text.trim(), "See the logo.");
    assert.match(view.html, /<img src="cid:logo@example.com">/, "cid: URLs are kept for the page to rewrite");
    assert.deepEqual(view.attachments.map((a) => [a.filename, a.contentType, a.cid, a.size]),
      [["logo.png", "image/png", "logo@example.com", PNG.length], ["notes.pdf", "application/pdf", null, 13]]);
    assert.deepEqual(view.attachments[0]!.content, PNG);
  });

  it("lists attachments in the order messages.attachments has them (the index in attachment URLs)", async () => {
    const [view, parsed] = await Promise.all([readMailView(RAW), parseMail(RAW)]);
    assert.deepEqual(view.attachments.map((a) => a.filename), parsed.attachments.map((a) => a.filename));
  });
});
