// Raw 8-bit header bytes that are not UTF-8: read in the mail's charset, else windows-1252.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { repairHeaderBytes } from "../../../src/mail/header-bytes.ts";
import { parseMail } from "../../../src/mail/parse.ts";

const latin1 = (s: string) => Buffer.from(s, "latin1");

describe("repairHeaderBytes", () => {
  it("returns the very same buffer when the header is ASCII or valid UTF-8", () => {
    const ascii = latin1("Subject: hi\r\n\r\nbody \xe9\r\n");
    assert.equal(repairHeaderBytes(ascii), ascii);
    const utf8 = Buffer.from("Subject: café ✓\r\n\r\nbody\r\n", "utf8");
    assert.deepEqual(repairHeaderBytes(utf8), utf8);
  });

  it("reads other bytes as windows-1252, keeps valid UTF-8 sequences on the same line, leaves the body alone", () => {
    const raw = Buffer.concat([latin1("From: J\xe9r\xf4me <j@x.example>\r\nSubject: d\xe9cembre "), Buffer.from("à", "utf8"),
      latin1(" \x93ok\x94\r\n\r\nbody \xe9\r\n")]);
    assert.equal(repairHeaderBytes(raw).toString("utf8"), "From: Jérôme <j@x.example>\r\nSubject: décembre à “ok”\r\n\r\nbody \uFFFD\r\n");
  });

  it("uses the top-level Content-Type charset when it names an 8-bit one", () => {
    const name = Buffer.from([0xe1, 0xce, 0xce, 0xc1]); // "Анна" in KOI8-R
    const raw = Buffer.concat([latin1("From: "), name, latin1(" <a@x.example>\nContent-Type: text/plain; charset=\"KOI8-R\"\n\nx\n")]);
    assert.match(repairHeaderBytes(raw).toString("utf8"), /^From: Анна <a@x\.example>\n/);
  });

  it("does not take overlong or surrogate sequences for UTF-8", () => {
    assert.equal(repairHeaderBytes(latin1("Subject: \xc0\xaf \xed\xa0\x80\n\n")).toString("utf8"), "Subject: À¯ í\u00a0€\n\n");
  });

  it("gives names and subjects a person can read after parsing", async () => {
    const mail = await parseMail(latin1("From: Ren\xe9e Dupr\xe9 <r@x.example>\r\nSubject: R\xe9union\r\n\r\nok\r\n"));
    assert.deepEqual([mail.fromName, mail.subject], ["Renée Dupré", "Réunion"]);
  });
});
