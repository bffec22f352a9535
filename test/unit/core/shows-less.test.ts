// What the chat shows less of than the mail, decided from the stored parse, and the lines that say so.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { shownLess, shownLessLines, type PartView, type ShownLessInput } from "../../../src/core/shows-less.ts";
import { mailToChat } from "../../../src/core/translate.ts";
import type { ParsedMail } from "../../../src/core/types.ts";

const URL_ = "https://mail.example.org/m/kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk";
const text = (size: number, type = "text/plain"): PartView => ({ contentType: type, disposition: null, size });
const file = (attachment: number): PartView => ({ contentType: "application/pdf", disposition: "attachment", size: 9, attachment });
const mail = (over: Partial<ParsedMail> = {}): ParsedMail => ({ subject: "S", fromAddress: "a@example.com", fromName: null,
  messageId: null, date: null, text: "Hello there", fromHtml: false, attachments: [], ...over });
const input = (over: Partial<ShownLessInput> = {}): ShownLessInput =>
  ({ mail: mail(), parts: [text(11)], quotesHidden: false, cutBytes: 0, ...over });
const what = (i: ShownLessInput) => shownLess(i).map((m) => m.what);

describe("shownLess", () => {
  it("is empty for a plain text mail shown whole", () => {
    assert.deepEqual(shownLess(input()), []);
    assert.deepEqual(shownLess(input({ parts: null })), [], "no structure, not from HTML: nothing known to be missing");
  });

  it("says the formatting is lost for a newsletter's HTML, much larger than its text", () => {
    assert.deepEqual(what(input({ parts: [text(3_000), text(40_000, "text/html")] })), ["formatting"]);
    assert.deepEqual(what(input({ mail: mail({ fromHtml: true, text: "x".repeat(500) }), parts: [text(30_000, "TEXT/HTML")] })), ["formatting"]);
  });

  it("does not for the HTML twin of a short reply", () => {
    assert.deepEqual(what(input({ parts: [text(200), text(900, "text/html")] })), []);
  });

  it("a mail written only in HTML has lost its formatting: the chat shows a conversion", () => {
    assert.deepEqual(what(input({ mail: mail({ fromHtml: true }), parts: null })), ["formatting"]);
    assert.deepEqual(what(input({ mail: mail({ fromHtml: true, text: "Hi Toto" }), parts: [text(60, "text/html")] })), ["formatting"]);
  });

  it("an HTML attachment is not the mail's formatting", () => {
    assert.deepEqual(what(input({ parts: [text(11), { ...text(90_000, "text/html"), disposition: "attachment", attachment: 0 }],
      fates: new Map([[0, "sent"]]), mail: mail({ attachments: [{ filename: "a.html", contentType: "text/html", size: 90_000 }] }) })), []);
  });

  it("counts inline images and attachments not sent, apart", () => {
    const attachments = [{ filename: "logo.png", contentType: "image/png", size: 3, related: true },
      { filename: "a.pdf", contentType: "application/pdf", size: 9 }, { filename: "b.pdf", contentType: "application/pdf", size: 9 },
      { filename: "c.exe", contentType: "application/x-msdownload", size: 9 }];
    const parts = [text(11), file(1), file(2), file(3)];
    assert.deepEqual(what(input({ mail: mail({ attachments }), parts })), ["1 inline image", "3 attachments"], "no fates: none sent");
    assert.deepEqual(what(input({ mail: mail({ attachments }), parts, fates: new Map([[1, "sent"], [2, "sent"], [3, "a program: not forwarded"]]) })),
      ["1 inline image", "1 attachment"]);
    assert.deepEqual(what(input({ mail: mail({ attachments: attachments.slice(1, 3) }), fates: new Map([[0, "sent"], [1, "sent"]]) })), [],
      "every file sent: nothing missing");
  });

  it("names hidden quotes and a cut text", () => {
    assert.deepEqual(what(input({ quotesHidden: true })), ["quoted text"]);
    assert.deepEqual(what(input({ cutBytes: 10 })), ["the rest of the text"]);
  });
});

describe("shownLessLines", () => {
  const all = shownLess(input({ parts: [text(10), text(50_000, "text/html")], quotesHidden: true, cutBytes: 5,
    mail: mail({ attachments: [{ filename: "logo.png", contentType: "image/png", size: 3, related: true }] }) }));

  it("with a page: names everything, and the URL is the last line, alone", () => {
    const lines = shownLessLines(all, URL_)!;
    assert.equal(lines, `[not shown here: formatting, 1 inline image, quoted text and the rest of the text; full mail below]\n${URL_}`);
    assert.equal(lines.split("\n").at(-1), URL_);
  });

  it("without a page: names only what no other line says", () => {
    assert.equal(shownLessLines(all, null), "[not shown here: formatting]");
    assert.equal(shownLessLines(all.filter((m) => m.what !== "formatting"), null), null);
    assert.equal(shownLessLines([], URL_), null, "nothing missing: no line, no link");
  });
});

describe("mailToChat: the link to the full mail", () => {
  const base = { id: "x", fromJid: "a\\40example.com@gw", toJid: "toto@example.org", acceptedAt: new Date(0), now: new Date(0), maxBodyBytes: 4096 };

  it("a newsletter ends with what is missing and its URL on the last line", () => {
    const body = mailToChat({ ...base, mail: mail({ text: "News of the week" }), parts: [text(16), text(40_000, "text/html")], fullMailUrl: URL_ }).body;
    assert.equal(body, `S\n\nNews of the week\n\n[not shown here: formatting; full mail below]\n${URL_}`);
  });

  it("a reply with its history collapsed links the full mail; shown whole, no link", () => {
    const reply = mail({ text: "Yes.\n\nOn Mon, Bob wrote:\n> one\n> two\n> three\n> four" });
    assert.equal(mailToChat({ ...base, mail: reply, fullMailUrl: URL_ }).body,
      `S\n\nYes.\n\n[quoted text hidden: 5 lines]\n\n[not shown here: quoted text; full mail below]\n${URL_}`);
    assert.equal(mailToChat({ ...base, mail: reply, collapseQuotes: false, fullMailUrl: URL_ }).body, `S\n\n${reply.text}`);
    assert.equal(mailToChat({ ...base, mail: reply }).body, "S\n\nYes.\n\n[quoted text hidden: 5 lines]", "no page: as before");
  });

  it("the link stays whole when the attachment list alone fills the budget", () => {
    const attachments = Array.from({ length: 50 }, (_, i) => ({ filename: `${"long-name-".repeat(8)}${i}.pdf`, contentType: "application/pdf", size: 9 }));
    const body = mailToChat({ ...base, maxBodyBytes: 2048, mail: mail({ attachments }), fullMailUrl: URL_ }).body;
    assert.ok(Buffer.byteLength(body) <= 2048);
    assert.ok(body.endsWith(`[not shown here: 50 attachments and the rest of the text; full mail below]\n${URL_}`), body.slice(-200));
  });

  it("the lines stay within the budget when the text is cut", () => {
    for (const maxBodyBytes of [200, 300, 1000]) {
      const body = mailToChat({ ...base, maxBodyBytes, mail: mail({ text: "word ".repeat(1000) }), parts: [text(5000), text(90_000, "text/html")], fullMailUrl: URL_ }).body;
      assert.ok(Buffer.byteLength(body) <= maxBodyBytes, `${Buffer.byteLength(body)} > ${maxBodyBytes}`);
      assert.ok(body.endsWith(`[not shown here: formatting and the rest of the text; full mail below]\n${URL_}`), body);
    }
  });
});
