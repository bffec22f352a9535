// Content-Transfer-Encoding undone from a part's stored bytes (RFC 2045 §6): the same bytes mailparser's
// own decoders give, on bodies written to be awkward.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { simpleParser } from "mailparser";
import { decodeTransfer } from "../../../src/mail/transfer-decoding.ts";

/** mailparser's bytes for `body` sent as an attachment with `encoding`. */
async function oracle(body: string, encoding: string): Promise<Buffer> {
  const raw = `Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: ${encoding}\r\n\r\n${body}`;
  return (await simpleParser(Buffer.from(raw, "latin1"))).attachments[0]!.content;
}

const CASES: [string, string][] = [
  ["base64", "aGVs\r\nbG8g\r\nd29y\r\nbGQ=\r\n"],
  ["base64", "aGk=\r\naGk=\r\n"], // every line padded on its own
  ["base64", "a*G!V s\tbG8\r\n====\r\n\u00e9"],
  ["base64", ""],
  ["quoted-printable", "caf=C3=A9 =\r\nsoft break, trailing spaces   \r\nhard=3D=3d, lone = sign, =ZZ, end="],
  ["quoted-printable", "tab\t\r\n= \t\r\nafter whitespace soft break\nbare LF=\nline=0A"],
  ["quoted-printable", "=\r=41\r\nx =  \r\n"],
  ["7bit", "as it is\r\n=41"],
  ["x-unknown", "kept =41"],
];

describe("decodeTransfer", () => {
  for (const [encoding, body] of CASES) {
    it(`${encoding}: ${JSON.stringify(body).slice(0, 40)}`, async () => {
      assert.deepEqual(decodeTransfer(Buffer.from(body, "latin1"), encoding), await oracle(body, encoding));
    });
  }

  it("decodes a large random binary body through base64 and quoted-printable alike", async () => {
    const bytes = Buffer.from(Array.from({ length: 20_000 }, (_, i) => (i * 7919) % 256));
    const base64 = bytes.toString("base64").replace(/.{76}/g, "$&\r\n");
    assert.deepEqual(decodeTransfer(Buffer.from(base64), "base64"), bytes);
    assert.deepEqual(decodeTransfer(Buffer.from(base64), "BASE64"), await oracle(base64, "base64"));
  });
});
