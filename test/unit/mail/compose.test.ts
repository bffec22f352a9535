// Mail headers we write (RFC 5321 §4.4 trace field, RFC 5322 §3.3 date).
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { mimeTree, receivedHeader, composeMail, rfc5322Date, type OutboundMail } from "../../../src/mail/compose.ts";

const DATE = new Date("2024-01-02T03:04:05.000Z");

describe("rfc5322Date", () => {
  it("writes an RFC 5322 date-time in UTC with a numeric zone", () => {
    assert.equal(rfc5322Date(DATE), "Tue, 02 Jan 2024 03:04:05 +0000");
    assert.equal(rfc5322Date(new Date("1999-12-31T23:59:59.999Z")), "Fri, 31 Dec 1999 23:59:59 +0000");
  });

  it("matches the RFC 5322 date-time grammar", () => {
    assert.match(rfc5322Date(new Date(1_700_000_000_000)), /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} \+0000$/);
  });
});

describe("receivedHeader", () => {
  const base = {
    helo: "mx.example.com", remoteAddress: "192.0.2.7", by: "mail.example.org",
    id: "7f3a", recipient: "toto@jabber.example.org", date: DATE,
  };

  it("writes a folded Received field with from, by, id, for and the date", () => {
    assert.equal(receivedHeader(base),
      "Received: from mx.example.com ([192.0.2.7])\r\n" +
      "\tby mail.example.org (Passerelle) with ESMTP id 7f3a\r\n" +
      "\tfor <toto@jabber.example.org>;\r\n" +
      "\tTue, 02 Jan 2024 03:04:05 +0000\r\n");
  });

  it("omits the for clause without a single recipient and says unknown for missing peer data", () => {
    assert.equal(receivedHeader({ ...base, helo: null, remoteAddress: null, recipient: null }),
      "Received: from unknown ([unknown])\r\n" +
      "\tby mail.example.org (Passerelle) with ESMTP id 7f3a;\r\n" +
      "\tTue, 02 Jan 2024 03:04:05 +0000\r\n");
  });

  it("cannot be used to inject a header: CR, LF, NUL, spaces and non-ASCII are dropped from peer values", () => {
    const header = receivedHeader({
      ...base,
      helo: "evil\r\nBcc: victim@example.net\u0000 x",
      remoteAddress: "::ffff:192.0.2.7\n",
      recipient: "toto@jabber.example.org>\r\nX-Injected: 1",
    });
    assert.equal(header,
      "Received: from evilBcc:victim@example.netx ([::ffff:192.0.2.7])\r\n" +
      "\tby mail.example.org (Passerelle) with ESMTP id 7f3a\r\n" +
      "\tfor <toto@jabber.example.org>X-Injected:1>;\r\n" +
      "\tTue, 02 Jan 2024 03:04:05 +0000\r\n");
    // Only the four line breaks we wrote, each followed by a tab or ending the field.
    assert.equal(header.match(/\r\n/g)?.length, 4);
    assert.doesNotMatch(header, /\r\n[^\t]/);
    assert.doesNotMatch(header.replaceAll("\r\n", ""), /[\r\n\0]/);
  });

  it("caps each peer value at 255 characters", () => {
    const header = receivedHeader({ ...base, helo: "h".repeat(10_000) });
    assert.ok(header.startsWith(`Received: from ${"h".repeat(255)} ([192.0.2.7])\r\n`));
  });
});

describe("composeMail", () => {
  const base: OutboundMail = { from: { address: "toto@jabber.example.org", name: "Toto" }, to: "alice@example.com",
    subject: "Re: Hello", text: "Hi Alice", messageId: "tok@jabber.example.org", inReplyTo: "p@example.com",
    references: ["r@example.com", "p@example.com"], jabberId: "toto@jabber.example.org", date: DATE };
  const texts = ["", "Hi", "Hi\n", "Hi\r\n", "Hi\r", "line one\nline two\r\n.\n.leading dot\n", "trailing spaces   ", "tab\tend\t",
    "x".repeat(998), "word ".repeat(400), "Grüße, ça va ? 😀 ".repeat(30), "😀".repeat(100), "=3D = =\n=", "a\u0000b\u001bc",
    `${"y".repeat(74)}é${"z".repeat(200)}`, "From the start\nFrom: not a header\r\nBcc: x@y", "\n\n\n", " ", "é",
    // just under and just over the 64 KiB that build()'s encoder takes in one piece, ending in whitespace
    `${"word ".repeat(13_100)}\t `, `${"ab c\n".repeat(13_107)}  `];
  const variants: Partial<OutboundMail>[] = [{}, { from: { address: "toto@jabber.example.org", name: "Zoé \"Z\" Ünïcode, Esq." } },
    { from: { address: "toto@jabber.example.org", name: null }, inReplyTo: null, references: [] },
    { subject: "Ré: ".repeat(40) + "😀 long subject that needs folding ".repeat(5) }, { to: "Alice.Smith@Bücher.example" },
    { jabberId: "zoé@jabber.example.org" },
    { toName: "Alice Martin", cc: [{ address: "eve@example.net", name: null }, { address: "frank@example.de", name: "Frank Wéber, Jr." }] }];

  it("writes a text-only mail exactly as nodemailer's build() would, byte for byte", async () => {
    for (const variant of variants) {
      for (const text of texts) {
        const mail = { ...base, ...variant, text };
        const expected = await new Promise<Buffer>((resolve, reject) =>
          mimeTree(mail).build((err, raw) => (err ? reject(err) : resolve(raw))));
        assert.equal((await composeMail(mail)).toString("latin1"), expected.toString("latin1"), JSON.stringify({ variant, text }));
      }
    }
  });

  it("the same for 300 random texts of spaces, tabs, line breaks, dots, equals signs and non-ASCII", async () => {
    let seed = 7;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
    const alphabet = ["a", "b", " ", "  ", "\t", "\r", "\n", "\r\n", ".", "=", "é", "😀", "x".repeat(80)];
    for (let i = 0; i < 300; i++) {
      const text = Array.from({ length: Math.floor(next() * 120) }, () => alphabet[Math.floor(next() * alphabet.length)]).join("");
      const mail = { ...base, text };
      const expected = await new Promise<Buffer>((resolve, reject) => mimeTree(mail).build((err, raw) => (err ? reject(err) : resolve(raw))));
      assert.equal((await composeMail(mail)).toString("latin1"), expected.toString("latin1"), JSON.stringify(text));
    }
  });

  it("a mail with a file is written by build(), as multipart/mixed", async () => {
    const raw = (await composeMail({ ...base, attachments: [{ filename: "a.txt", contentType: "text/plain", content: Buffer.from("file") }] })).toString();
    assert.match(raw, /Content-Type: multipart\/mixed/);
    assert.match(raw, /filename=a\.txt/);
  });
});

describe("header lines (RFC 5322 §2.1.1: at most 998, should be 78)", () => {
  const base: OutboundMail = {
    from: { address: "toto@jabber.example.org", name: "Toto" }, to: "alice@example.com", subject: "s", text: "hello",
    messageId: "tok@jabber.example.org", inReplyTo: null, references: [], jabberId: "toto@jabber.example.org", date: DATE,
  };
  const header = (raw: Buffer) => { const t = raw.toString("latin1"); return t.slice(0, t.indexOf("\r\n\r\n")).split("\r\n"); };
  const everyLine = (raw: Buffer) => raw.toString("latin1").split("\r\n");

  for (const [name, subject] of [["ASCII words", "word ".repeat(20_000)], ["UTF-8 (encoded words)", "héllo wörld ".repeat(9_000)],
    ["no white space", "x".repeat(100_000)], ["UTF-8 without white space", "é".repeat(50_000)], ["a run of 70", `a ${"y".repeat(70)}`]] as const) {
    it(`a 100 KB subject in ${name} is cut and folded: no line over 78`, async () => {
      for (const attachments of [undefined, [{ filename: "a.txt", contentType: "text/plain", content: Buffer.from("x") }]]) {
        const raw = await composeMail({ ...base, subject, ...(attachments ? { attachments } : {}) });
        assert.ok(everyLine(raw).every((l) => l.length <= 998));
        const long = header(raw).find((l) => l.length > 78);
        assert.equal(long, undefined, long);
      }
    });
  }

  it("ids, a JID, a file name and a type too long for a line are left out or cut", async () => {
    const raw = await composeMail({ ...base, inReplyTo: `${"i".repeat(5000)}@x`, references: [`${"r".repeat(3000)}@x`, "ok@x"],
      jabberId: `${"j".repeat(2000)}@jabber.example.org`,
      attachments: [{ filename: `${"f".repeat(3000)}.pdf`, contentType: `application/${"z".repeat(2000)}`, content: Buffer.from("x") }] });
    const lines = everyLine(raw);
    assert.ok(lines.every((l) => l.length <= 998), String(lines.find((l) => l.length > 998)?.length));
    const head = header(raw).join("\n");
    assert.doesNotMatch(head, /^In-Reply-To:/m);
    assert.match(head, /^References: <ok@x>$/m);
    assert.doesNotMatch(head, /^Jabber-ID:/m);
    assert.match(raw.toString("latin1"), /Content-Type: application\/octet-stream/);
  });

  it("a reply's To and Cc carry names, encoded as RFC 2047 needs, and fold within 78", async () => {
    const cc = Array.from({ length: 20 }, (_, i) => ({ address: `person.number.${i}@a-rather-long-domain-name.example`,
      name: i % 2 ? `Zoë Ünïcode-Name ${"é".repeat(40)} ${i}` : `"Quoted, Name" ${"x".repeat(50)}` }));
    const raw = await composeMail({ ...base, toName: "Alice Martin", cc });
    const lines = header(raw);
    const long = lines.find((l) => l.length > 78);
    assert.equal(long, undefined, long);
    const head = lines.join("\r\n").replace(/\r\n[ \t]/g, " ");
    assert.match(head, /^To: Alice Martin <alice@example\.com>$/m);
    const ccLine = /^Cc: (.*)$/m.exec(head)?.[1] ?? "";
    for (const c of cc) assert.ok(ccLine.includes(`<${c.address}>`), c.address);
    assert.match(ccLine, /=\?UTF-8\?/, "non-ASCII names as encoded words");
    assert.match(ccLine, /"\\"Quoted, Name\\" x+"/, "specials quoted");
  });

  it("a name that reads as an address is left out of To and Cc", async () => {
    const head = header(await composeMail({ ...base, toName: "ceo@bank.example", cc: [{ address: "eve@example.net", name: "<boss@x>" }] })).join("\n");
    assert.match(head, /^To: alice@example\.com$/m);
    assert.match(head, /^Cc: eve@example\.net$/m);
  });

  it("keeps References to the first id and the latest ones", async () => {
    const ids = Array.from({ length: 50 }, (_, i) => `id${i}@x`);
    const head = header(await composeMail({ ...base, references: ids })).join("\n");
    const refs = /^References: ([^]*?)\n(?!\s)/m.exec(`${head}\n`)?.[1]?.split(/\s+/) ?? [];
    assert.equal(refs.length, 20);
    assert.equal(refs[0], "<id0@x>");
    assert.equal(refs.at(-1), "<id49@x>");
  });
});
