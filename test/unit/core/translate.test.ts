// Mail → chat translation (docs/design.md §Contract, Messages to XMPP).
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { formatSize, mailToChat, type MailToChatInput } from "../../../src/core/translate.ts";
import type { ParsedMail } from "../../../src/core/types.ts";

const ch = (...codes: number[]) => String.fromCharCode(...codes);
const ACCEPTED = new Date("2024-01-02T03:04:05.000Z");

function mail(over: Partial<ParsedMail> = {}): ParsedMail {
  return {
    subject: "Lunch tomorrow?",
    fromAddress: "alice@example.com",
    fromName: "Alice Example",
    messageId: "<abc@example.com>",
    date: ACCEPTED,
    text: "Hi Toto,\nnoon at the usual place?\n",
    fromHtml: false,
    attachments: [],
    ...over,
  };
}

function input(over: Partial<MailToChatInput> = {}): MailToChatInput {
  return {
    mail: mail(),
    id: "pm-42-1",
    fromJid: "alice\\40example.com@mail.example.org",
    toJid: "toto@example.org",
    acceptedAt: ACCEPTED,
    now: new Date(ACCEPTED.getTime() + 1_000),
    maxBodyBytes: 16 * 1024,
    ...over,
  };
}

describe("mailToChat", () => {
  it("builds the whole chat message: subject line, blank line, text; nick; no delay when on time", () => {
    assert.deepEqual(mailToChat(input()), {
      id: "pm-42-1",
      from: "alice\\40example.com@mail.example.org",
      to: "toto@example.org",
      body: "Lunch tomorrow?\n\nHi Toto,\nnoon at the usual place?",
      nick: "Alice Example",
      delay: null,
    });
  });

  it("shows the address the mail was sent to, when not the mailbox's own, first on the subject line", () => {
    assert.equal(mailToChat(input({ addressTag: "news" })).body.split("\n")[0], "[news] Lunch tomorrow?");
    assert.equal(mailToChat(input({ addressTag: "sales@example.org", mail: mail({ listId: "l.example.org" }) })).body.split("\n")[0],
      "[sales@example.org] [list: l.example.org] Lunch tomorrow?");
    assert.equal(mailToChat(input({ addressTag: `a${ch(0x202e)}\r\nb` })).body.split("\n")[0], "[a b] Lunch tomorrow?");
    assert.equal(mailToChat(input({ addressTag: null })).body.split("\n")[0], "Lunch tomorrow?");
  });

  it("says (no subject) when the subject is empty or only invisible characters", () => {
    assert.equal(mailToChat(input({ mail: mail({ subject: "" }) })).body, "(no subject)\n\nHi Toto,\nnoon at the usual place?");
    assert.equal(mailToChat(input({ mail: mail({ subject: `  ${ch(0x200b)}\r\n ` }) })).body.split("\n")[0], "(no subject)");
  });

  it("is only the subject line when there is no text", () => {
    assert.equal(mailToChat(input({ mail: mail({ text: "" }) })).body, "Lunch tomorrow?");
    assert.equal(mailToChat(input({ mail: mail({ text: " \r\n\n\t \n" }) })).body, "Lunch tomorrow?");
  });

  it("keeps the subject on one line and strips bidi overrides from it", () => {
    const body = mailToChat(input({ mail: mail({ subject: `Re: invoice${ch(0x202e)}fdp.exe\r\n\tcontinued`, text: "x" }) })).body;
    assert.equal(body, "Re: invoicefdp.exe continued\n\nx");
  });

  it("normalises line ends, trailing blanks and runs of empty lines (at most one) in the text", () => {
    const text = "\r\n\r\nfirst line   \r\nsecond\t\rthird\n\n\n\n\n\nfourth\n\n\n";
    assert.equal(mailToChat(input({ mail: mail({ text }) })).body, "Lunch tomorrow?\n\nfirst line\nsecond\nthird\n\nfourth");
  });

  it("keeps the space of the signature separator \"-- \" (RFC 3676 §4.3)", () => {
    assert.equal(mailToChat(input({ mail: mail({ subject: "S", text: "Hi\n\n-- \nBob\n" }) })).body, "S\n\nHi\n\n-- \nBob");
  });

  it("removes XML-forbidden characters from the text even if the parser let them through", () => {
    const text = `a${ch(0)}b${ch(0x1b)}c${ch(0xfffe)}d\uD800e\uD83D\uDE00`;
    assert.equal(mailToChat(input({ mail: mail({ text, subject: `s${ch(1)}` }) })).body, "s\n\nabcde\uD83D\uDE00");
  });

  it("puts the display name in nick, cleaned; null when absent or empty after cleaning", () => {
    assert.equal(mailToChat(input({ mail: mail({ fromName: `Bob${ch(0x202e)}\n${ch(0x200b)}Smith` }) })).nick, "Bob Smith");
    assert.equal(mailToChat(input({ mail: mail({ fromName: null }) })).nick, null);
    assert.equal(mailToChat(input({ mail: mail({ fromName: "" }) })).nick, null);
    assert.equal(mailToChat(input({ mail: mail({ fromName: `${ch(0x200b)}${ch(0x202e)} ` }) })).nick, null);
  });

  it("adds a XEP-0203 delay stamped with the acceptance time only when delivery is more than a minute late", () => {
    const at = (ms: number) => mailToChat(input({ now: new Date(ACCEPTED.getTime() + ms) })).delay;
    assert.equal(at(0), null);
    assert.equal(at(60_000), null);
    assert.deepEqual(at(60_001), ACCEPTED);
    assert.deepEqual(at(3 * 24 * 3600_000), ACCEPTED);
  });

  it("stamps a late delivery with the mail's Date when that is credible, else with acceptance", () => {
    const sent = new Date(ACCEPTED.getTime() - 5 * 60_000);
    const late = new Date(ACCEPTED.getTime() + 3600_000);
    assert.deepEqual(mailToChat(input({ mail: mail({ date: sent }), now: late })).delay, sent);
    assert.deepEqual(mailToChat(input({ mail: mail({ date: null }), now: late })).delay, ACCEPTED);
    // A sender's clock ahead of ours is clamped to acceptance; a date before 1982 is not believed.
    assert.deepEqual(mailToChat(input({ mail: mail({ date: new Date(ACCEPTED.getTime() + 600_000) }), now: late })).delay, ACCEPTED);
    assert.deepEqual(mailToChat(input({ mail: mail({ date: new Date("1901-12-13T20:45:52Z") }), now: late })).delay, ACCEPTED);
  });

  it("marks mail whose Date is more than a day (or lateDateMs) before acceptance as late, even when delivered at once", () => {
    const at = (ms: number, lateDateMs?: number) =>
      mailToChat(input({ mail: mail({ date: new Date(ACCEPTED.getTime() - ms) }), lateDateMs })).delay;
    assert.equal(at(24 * 3600_000), null);
    assert.deepEqual(at(24 * 3600_000 + 1), new Date(ACCEPTED.getTime() - 24 * 3600_000 - 1));
    assert.deepEqual(at(11 * 24 * 3600_000), new Date(ACCEPTED.getTime() - 11 * 24 * 3600_000));
    assert.deepEqual(at(3600_001, 3600_000), new Date(ACCEPTED.getTime() - 3600_001));
    // Future, absurd or invalid dates never make a message late by themselves.
    assert.equal(mailToChat(input({ mail: mail({ date: new Date("2031-01-01T00:00:00Z") }) })).delay, null);
    assert.equal(mailToChat(input({ mail: mail({ date: new Date("1901-12-13T20:45:52Z") }) })).delay, null);
    assert.equal(mailToChat(input({ mail: mail({ date: new Date(Number.NaN) }) })).delay, null);
  });

  it("marks list mail with its List-Id and automatic mail or a null sender with [automatic]", () => {
    const first = (over: Partial<MailToChatInput>) => mailToChat(input(over)).body.split("\n")[0];
    assert.equal(first({ mail: mail({ listId: "dev.lists.example.org", automatic: true }) }), "[list: dev.lists.example.org] Lunch tomorrow?");
    assert.equal(first({ mail: mail({ automatic: true }) }), "[automatic] Lunch tomorrow?");
    assert.equal(first({ nullSender: true }), "[automatic] Lunch tomorrow?");
    assert.equal(first({ mail: mail({ automatic: false, listId: null }) }), "Lunch tomorrow?");
    assert.equal(first({ mail: mail({ subject: "", automatic: true }) }), "[automatic] (no subject)");
  });

  it("collapses quoted history by default, keeps it when the mailbox turned that off", () => {
    const text = "Fine.\n\nOn Mon, 1 Jan 2024, Bob wrote:\n> a\n> b\n> c\n> d\n";
    assert.equal(mailToChat(input({ mail: mail({ subject: "S", text }) })).body, "S\n\nFine.\n\n[quoted text hidden: 5 lines]");
    assert.equal(mailToChat(input({ mail: mail({ subject: "S", text }), collapseQuotes: false })).body, `S\n\n${text.trim()}`);
  });

  it("keeps an Outlook header block in a forward (Fwd:, TR:, WG:)", () => {
    const text = "FYI\n\nFrom: A <a@x.example>\nSent: Tuesday\nSubject: Booking\n\nBooking 88412";
    for (const subject of ["Fwd: Booking", "FW: Booking", "TR: Booking", "WG: Booking"]) {
      assert.equal(mailToChat(input({ mail: mail({ subject, text }) })).body, `${subject}\n\n${text}`);
    }
    assert.equal(mailToChat(input({ mail: mail({ subject: "RE: Booking", text }) })).body, "RE: Booking\n\nFYI\n\n[quoted text hidden: 4 lines]");
  });

  it("removes bidi overrides and zero-width characters from the text as well", () => {
    const text = `Your account is ${ch(0x202e)}dednepsus${ch(0x202c)}; pay${ch(0x200b)}pal`;
    assert.equal(mailToChat(input({ mail: mail({ subject: "S", text }) })).body, "S\n\nYour account is dednepsus; paypal");
  });

  it("ends a cut text with the full mail's URL alone on the last line, within the budget", () => {
    const url = "https://gw.example.org/m/0123456789abcdefghjkmnpqrstvwxyz";
    const message = mailToChat(input({ mail: mail({ subject: "S", text: "word ".repeat(100) }), maxBodyBytes: 200, fullMailUrl: url }));
    assert.match(message.body, /^S\n\n(word )+word\n\n\[… \d+ bytes more not shown\]\n\n\[not shown here: the rest of the text; full mail below\]\nhttps:\/\/gw\.example\.org\/m\/0123456789abcdefghjkmnpqrstvwxyz$/);
    assert.equal(message.body.split("\n").at(-1), url, "nothing glued to the URL");
    assert.ok(Buffer.byteLength(message.body) <= 200, `${Buffer.byteLength(message.body)} bytes`);
    assert.doesNotMatch(mailToChat(input({ fullMailUrl: url })).body, /full mail/, "no link when nothing was cut");
  });

  it("lists attachments that are not forwarded, after the text", () => {
    const body = mailToChat(input({
      mail: mail({
        text: "see attached",
        attachments: [
          { filename: "report.pdf", contentType: "application/pdf", size: 9 },
          { filename: null, contentType: "image/png", size: 2048 },
          { filename: `evil${ch(0x202e)}gnp.exe\r\nX: y`, contentType: "application/x-msdownload", size: 3 * 1024 * 1024 },
        ],
      }),
    })).body;
    assert.equal(body, [
      "Lunch tomorrow?",
      "",
      "see attached",
      "",
      "[attachment not forwarded: report.pdf (application/pdf, 9 bytes)]",
      "[attachment not forwarded: unnamed (image/png, 2.0 KiB)]",
      "[attachment not forwarded: evilgnp.exe X: y (application/x-msdownload, 3.0 MiB)]",
    ].join("\n"));
  });

  it("lists attachments right after the subject when there is no text", () => {
    const body = mailToChat(input({
      mail: mail({ text: "", attachments: [{ filename: "a.txt", contentType: "text/plain", size: 0 }] }),
    })).body;
    assert.equal(body, "Lunch tomorrow?\n\n[attachment not forwarded: a.txt (text/plain, 0 bytes)]");
  });

  it("truncates a long text to maxBodyBytes and says how much is not shown", () => {
    const message = mailToChat(input({ mail: mail({ subject: "S", text: "a".repeat(300) }), maxBodyBytes: 100 }));
    // 100 - "S\n\n" (3) - room for the notice (40) = 57 bytes of text; the notice fits in the budget.
    assert.equal(message.body, `S\n\n${"a".repeat(57)}\n\n[… 243 bytes more not shown]`);
    assert.ok(Buffer.byteLength(message.body) <= 100);
  });

  it("cuts a long text on a line boundary and reports the size in KiB", () => {
    const line = `${"x".repeat(99)}\n`;
    const message = mailToChat(input({ mail: mail({ subject: "S", text: line.repeat(100) }), maxBodyBytes: 1000 }));
    const [kept, notice] = message.body.split("\n\n[… ");
    // The first 1000 bytes end inside the tenth line: the cut goes back to the end of the ninth.
    assert.equal(kept, `S\n\n${line.repeat(8)}${"x".repeat(99)}`);
    // 3 + 10000 - 1 (final newline trimmed) = 10002 bytes in all, 902 kept: 9100 bytes = 8.9 KiB.
    assert.equal(notice, "8.9 KiB more not shown]");
  });

  it("keeps the truncated body well-formed and close to the limit, whatever the text", () => {
    const text = `Grüße ${"\uD83D\uDE00"} 中文 `.repeat(5000);
    for (const maxBodyBytes of [64, 1000, 4096, 16 * 1024]) {
      const { body } = mailToChat(input({ mail: mail({ text }), maxBodyBytes }));
      assert.ok(body.endsWith(" more not shown]"), `notice at ${maxBodyBytes}`);
      // Room for the notice is kept inside the budget: the whole body fits.
      assert.ok(Buffer.byteLength(body) <= maxBodyBytes, `size at ${maxBodyBytes}: ${Buffer.byteLength(body)}`);
      assert.doesNotMatch(body, /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]|\uFFFD/);
    }
  });

  it("does not add a notice when the body fits exactly", () => {
    const text = "b".repeat(10);
    const message = mailToChat(input({ mail: mail({ subject: "S", text }), maxBodyBytes: 13 }));
    assert.equal(message.body, "S\n\nbbbbbbbbbb");
  });

  it("is deterministic: the same input gives the same message (stable ids for retries)", () => {
    assert.deepEqual(mailToChat(input()), mailToChat(input()));
  });

  // Regression (found by the property tests): trailing blanks were cut with /[ \t]+$/gm, quadratic on a long
  // run of blanks that does not end its line; 1 MB of them would hold the delivery loop for hours.
  it("handles 100,000 blanks before a letter in linear time (was 40 s), and still trims line ends", () => {
    const started = Date.now();
    const blanks = " \t".repeat(50_000);
    const message = mailToChat(input({ mail: mail({ subject: "S", text: `a${blanks}x  \nnext\t\t\n` }), maxBodyBytes: 2_000_000 }));
    assert.ok(Date.now() - started < 5_000, `took ${Date.now() - started} ms`);
    assert.equal(message.body, `S\n\na${blanks}x\nnext`);
  });

  // Regressions (found by the property tests): a 1 MiB display name or attachment names made a stanza past
  // Prosody's 512 KiB limit, which closes the whole component stream; a small budget was not kept.
  it("bounds the nick, each attachment line and the whole body, whatever the header sizes", () => {
    const huge = "n".repeat(600 * 1024);
    const message = mailToChat(input({ mail: mail({ fromName: huge, subject: huge,
      attachments: Array.from({ length: 60 }, () => ({ filename: huge, contentType: huge, size: 1 })) }) }));
    assert.ok(Buffer.byteLength(message.nick ?? "") <= 1024, `nick ${Buffer.byteLength(message.nick ?? "")} bytes`);
    assert.ok(Buffer.byteLength(message.body) <= 16 * 1024, `body ${Buffer.byteLength(message.body)} bytes`);
    assert.match(message.body, /^n{1024}\n\n/, "the subject still leads");
    const tiny = mailToChat(input({ mail: mail({ subject: "A long subject line" }), maxBodyBytes: 8 }));
    assert.ok(Buffer.byteLength(tiny.body) <= 8, JSON.stringify(tiny.body));
  });

  // Regression (found by the property tests): the attachment's content type reached the stanza unsanitized.
  it("sanitizes the attachment content type too (invariant 3)", () => {
    const message = mailToChat(input({ mail: mail({ attachments: [{ filename: "a.pdf", contentType: "application/pdf\u0000\u001b", size: 3 }] }) }));
    assert.match(message.body, /\[attachment not forwarded: a\.pdf \(application\/pdf, 3 bytes\)\]$/);
  });
});

describe("formatSize", () => {
  it("uses bytes below 1 KiB, then KiB, then MiB with one decimal", () => {
    assert.equal(formatSize(0), "0 bytes");
    assert.equal(formatSize(1023), "1023 bytes");
    assert.equal(formatSize(1024), "1.0 KiB");
    assert.equal(formatSize(1536), "1.5 KiB");
    assert.equal(formatSize(1024 * 1024 - 1), "1024.0 KiB");
    assert.equal(formatSize(1024 * 1024), "1.0 MiB");
    assert.equal(formatSize(25 * 1024 * 1024), "25.0 MiB");
  });
});
