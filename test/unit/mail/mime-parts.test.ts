// The MIME structure read once at intake (mail/mime-parts.ts): each attachment's byte range in the stored
// bytes decodes to exactly the bytes mailparser gives for it — mailparser is the oracle — on the whole
// corpus and on shapes made to be awkward, with our trace fields on top as intake stores the mail.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { simpleParser } from "mailparser";
import { readMail } from "../../../src/mail/parse.ts";
import { MAX_PARTS } from "../../../src/mail/mime-parts.ts";
import { decodeTransfer } from "../../../src/mail/transfer-decoding.ts";

const DIR = new URL("../../corpus/", import.meta.url);
const POLICY = { maxBytes: 1024 * 1024, types: ["image/*", "application/pdf", "message/rfc822", "text/calendar"] };
/** What intake puts on top before storing (queue/intake.ts): offsets are into these bytes. */
const TRACE = Buffer.from("Authentication-Results: mx.jabber.test; spf=pass\r\nReceived: from mx.example.com by mx.jabber.test; Tue, 1 Dec 2026 10:00:00 +0000\r\n");
const crlf = (lines: string[]) => Buffer.from(lines.join("\r\n"));

/** Every attachment mailparser finds, in its order, is the part with that index, and its range decodes to it. */
async function assertOracle(raw: Buffer, label: string): Promise<number> {
  const stored = Buffer.concat([TRACE, raw]);
  const [{ mail, structure }, oracle] = await Promise.all([readMail(stored, { policy: POLICY }), simpleParser(stored)]);
  assert.ok(structure, `${label}: a structure`);
  const listed = structure.parts.filter((p) => p.attachment !== undefined);
  assert.equal(listed.length, oracle.attachments.length, `${label}: one part per attachment`);
  assert.equal(mail.attachments.length, oracle.attachments.length, label);
  oracle.attachments.forEach((a, i) => {
    const part = structure.parts.find((p) => p.attachment === i);
    assert.ok(part, `${label}: attachment ${i} has a part`);
    assert.ok(part.start >= TRACE.length && part.end <= stored.length && part.start <= part.end, `${label}: range inside the mail`);
    assert.deepEqual(decodeTransfer(stored.subarray(part.start, part.end), part.encoding), a.content, `${label}: bytes of ${i}`);
    assert.equal(part.size, a.content.length, `${label}: size of ${i}`);
    assert.equal(part.filename, a.filename ?? null, `${label}: name of ${i}`);
    assert.equal(part.contentType, a.contentType.toLowerCase(), `${label}: type of ${i}`);
    assert.equal(part.cid, a.cid ?? null, `${label}: Content-ID of ${i}`);
    assert.equal(part.related === true, a.related === true, `${label}: related ${i}`);
    assert.ok(part.verdict, `${label}: a verdict for ${i}`);
  });
  return listed.length;
}

describe("the MIME structure read with the mail", () => {
  const files = readdirSync(DIR).filter((f) => f.endsWith(".eml")).sort();

  it("matches mailparser's attachments byte for byte on the whole corpus", async () => {
    let attachments = 0;
    for (const file of files) attachments += await assertOracle(readFileSync(new URL(file, DIR)), file);
    assert.ok(attachments >= 6, `the corpus has attachments to check (${attachments})`);
  });

  it("forwarded mail (16), inline images of a related HTML mail (18), broken MIME (22, 23)", async () => {
    const read = async (f: string) => (await readMail(Buffer.concat([TRACE, readFileSync(new URL(f, DIR))]), { policy: POLICY })).structure!;
    const forwarded = await read("16-forwarded-rfc822.eml");
    assert.deepEqual(forwarded.parts.filter((p) => p.attachment !== undefined).map((p) => p.contentType), ["message/rfc822"]);
    const inline = await read("18-inline-images.eml");
    const images = inline.parts.filter((p) => p.attachment !== undefined);
    assert.ok(images.length === 2 && images.every((p) => p.related && p.cid && p.verdict?.forward === false), JSON.stringify(images));
    assert.deepEqual(images.map((p) => p.verdict), images.map(() => ({ forward: false, why: "inline image of the HTML mail" })));
    const unclosed = await read("22-broken-mime-no-end-boundary.eml");
    assert.ok(unclosed.parts.every((p) => p.end <= readFileSync(new URL("22-broken-mime-no-end-boundary.eml", DIR)).length + TRACE.length));
    assert.ok((await read("23-broken-base64.eml")).parts.length >= 1);
  });

  it("nested multiparts, an inline message/rfc822 read into its parts, and 8-bit header bytes repaired in front", async () => {
    const png = Buffer.from("89504e470d0a1a0a0000000d49484452", "hex");
    const raw = crlf([
      "From: =?utf-8?q?Ren=C3=A9?= <rene@example.com>", "Subject: Caf\u00e9 latin1".replace("\u00e9", "\u00e9"),
      'Content-Type: multipart/mixed; boundary="a"', "", "preamble", "--a",
      'Content-Type: multipart/alternative; boundary="b"', "", "--b", "Content-Type: text/plain; charset=utf-8", "",
      "hello", "--b", "Content-Type: text/html", "Content-Transfer-Encoding: quoted-printable", "", "<p>h=C3=A9llo=", "</p>", "--b--",
      "--a", "Content-Type: message/rfc822", "Content-Disposition: inline", "",
      "Subject: inner", 'Content-Type: multipart/mixed; boundary="c"', "", "--c", "Content-Type: text/plain", "", "inner text",
      "--c", 'Content-Type: image/png; name="in.png"', "Content-Transfer-Encoding: base64", "", png.toString("base64"), "--c--",
      "--a", 'Content-Type: application/pdf; name="x.pdf"', "Content-Transfer-Encoding: base64", "", "JVBERi0x", "LjQ=", "--a--", "epilogue", ""]);
    // A raw Latin-1 byte in the Subject: the parser reads the header repaired into longer UTF-8 (header-bytes.ts).
    const latin = Buffer.from(raw.toString("utf8").replace("Café", "Caf\u00e9"), "latin1");
    assert.equal(await assertOracle(latin, "crafted"), 2);
    const { structure } = await readMail(latin);
    assert.deepEqual(structure!.parts.map((p) => p.path), ["1.1", "1.2", "2.1", "2.2", "3"]);
    const html = structure!.parts[1]!;
    assert.equal(decodeTransfer(latin.subarray(html.start, html.end), html.encoding).toString(), "<p>héllo</p>");
  });

  it("lists at most MAX_PARTS parts of a mail with many, and counts the rest", async () => {
    const n = MAX_PARTS + 50;
    const raw = crlf(['Content-Type: multipart/mixed; boundary="m"', "",
      ...Array.from({ length: n }, (_, i) => [`--m`, `Content-Type: application/pdf; name="f${i}.pdf"`, "", `pdf ${i}`]).flat(), "--m--", ""]);
    const { mail, structure } = await readMail(raw, { policy: POLICY });
    assert.equal(structure!.parts.length, MAX_PARTS);
    assert.equal(structure!.omitted, 50);
    assert.equal(mail.attachments.length, MAX_PARTS, "the attachment list is capped alike");
    assert.equal(decodeTransfer(raw.subarray(structure!.parts[199]!.start, structure!.parts[199]!.end), "7bit").toString(), "pdf 199");
  });

  it("gives no structure for a mail the parser could not read (its bytes stay stored)", async () => {
    const bomb = crlf(['Content-Type: multipart/mixed; boundary="m"', "", ...Array.from({ length: 1100 }, () => ["--m", "", "x"]).flat(), "--m--"]);
    const { structure, report } = await readMail(bomb);
    assert.equal(structure, null);
    assert.equal(report, null);
  });
});
