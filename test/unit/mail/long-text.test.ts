// Text parts cut before decoding (memory of the parser thread): only text bodies shrink, at a line end;
// attachments and the structure pass unchanged, and the size left out is estimated once decoded.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { simpleParser } from "mailparser";
import { createTextCutter } from "../../../src/mail/long-text.ts";

async function cut(raw: Buffer, maxBytes: number): Promise<{ out: Buffer; cutBytes: number }> {
  const cutter = createTextCutter(maxBytes);
  const chunks: Buffer[] = [];
  cutter.output.on("data", (c: Buffer) => chunks.push(c));
  const ended = new Promise((resolve, reject) => { cutter.output.on("end", resolve); cutter.output.on("error", reject); });
  for (let at = 0; at < raw.length; at += 65_536) cutter.input.write(raw.subarray(at, at + 65_536));
  cutter.input.end();
  await ended;
  return { out: Buffer.concat(chunks), cutBytes: cutter.cutBytes() };
}

const wrap = (b64: string) => b64.replace(/.{76}/g, "$&\r\n");
const line = `${"x".repeat(76)}\r\n`;
const pdf = Buffer.alloc(1_500_000, 7);

function mail(textLines: number, htmlText: string): Buffer {
  return Buffer.from([
    "Subject: long", "Content-Type: multipart/mixed; boundary=b1", "", "--b1",
    "Content-Type: multipart/alternative; boundary=b2", "", "--b2",
    "Content-Type: text/plain; charset=us-ascii", "", line.repeat(textLines) + "--b2",
    "Content-Type: text/html; charset=utf-8", "Content-Transfer-Encoding: base64", "",
    wrap(Buffer.from(htmlText).toString("base64")), "--b2--", "--b1",
    "Content-Type: application/pdf; name=a.pdf", "Content-Disposition: attachment; filename=a.pdf",
    "Content-Transfer-Encoding: base64", "", wrap(pdf.toString("base64")), "--b1--", "",
  ].join("\r\n"));
}

describe("text cutter", () => {
  it("passes a mail whose text parts are within the bound unchanged, byte for byte", async () => {
    const raw = mail(100, "<p>short</p>");
    const { out, cutBytes } = await cut(raw, 64 * 1024);
    assert.ok(out.equals(raw));
    assert.equal(cutBytes, 0);
  });

  it("cuts long text parts at a line end and keeps the attachment whole", async () => {
    const html = `<p>${"word ".repeat(400_000)}</p>`; // 2 MB of HTML, 2.7 MB as base64
    const raw = mail(30_000, html); // 2.3 MB of plain text
    const max = 512 * 1024;
    const { out, cutBytes } = await cut(raw, max);
    const parsed = await simpleParser(out);
    const text = parsed.text ?? "";
    assert.ok(text.length <= max && text.length > max * 0.9, String(text.length));
    assert.match(text, /^(x{76}\n)+$/, "whole lines only");
    assert.ok(typeof parsed.html === "string" && parsed.html.startsWith("<p>word word"));
    assert.equal(parsed.attachments.length, 1);
    assert.equal(parsed.attachments[0]!.filename, "a.pdf");
    assert.ok(parsed.attachments[0]!.content.equals(pdf), "the attachment as sent");
    // Left out, once decoded: the plain text beyond what was kept, and the HTML beyond its kept part.
    const expected = (30_000 * 77 - text.length) + (Buffer.byteLength(html) - (parsed.html as string).length);
    assert.ok(Math.abs(cutBytes - expected) < 1024, `${cutBytes} ≈ ${expected}`);
  });
});
