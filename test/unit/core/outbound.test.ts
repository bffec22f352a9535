import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { mailText, replySubject, subjectFromText } from "../../../src/core/outbound.ts";
import { classifyRelayError } from "../../../src/smtp/classify.ts";

describe("chat → mail decisions", () => {
  it("adds Re: once, whatever reply prefix the subject already has", () => {
    assert.equal(replySubject("Lunch"), "Re: Lunch");
    assert.equal(replySubject("Re: Lunch"), "Re: Lunch");
    assert.equal(replySubject("RE:Lunch"), "RE:Lunch");
    assert.equal(replySubject("AW: Mittag"), "AW: Mittag");
    assert.equal(replySubject(""), "Re: (no subject)");
    assert.equal(replySubject("a\r\nBcc: x@y"), "Re: a Bcc: x@y");
  });

  it("takes a new mail's subject from the first non-empty line, cut near 60 characters at a word", () => {
    assert.equal(subjectFromText("\n\nHello there\nsecond"), "Hello there");
    const long = "This is a rather long first line that goes on and on beyond sixty characters";
    assert.equal(subjectFromText(long), "This is a rather long first line that goes on and on beyond…");
    assert.equal(subjectFromText(""), "(no subject)");
  });

  it("strips the XEP-0428 reply fallback (code points), normalises line ends and drops forbidden characters", () => {
    const quote = "> Alice wrote: 😀 hi\n";
    const body = `${quote}My answer\r\nsecond line\rthird${String.fromCharCode(1)}`;
    assert.equal(mailText({ body, fallback: [{ start: 0, end: [...quote].length }] }), "My answer\nsecond line\nthird");
    assert.equal(mailText({ body: "  plain  ", fallback: [] }), "plain");
    assert.equal(mailText({ body: null, fallback: [] }), "");
  });

  it("classifies relay answers: 5xx permanent, 4xx and no answer temporary", () => {
    assert.deepEqual(classifyRelayError({ responseCode: 550, response: "550 5.1.1 no such user", message: "x" }),
      { permanent: true, text: "550 5.1.1 no such user" });
    assert.equal(classifyRelayError({ responseCode: 451, response: "451 4.3.0 later", message: "x" }).permanent, false);
    assert.equal(classifyRelayError({ code: "ECONNECTION", message: "connect ECONNREFUSED" }).permanent, false);
    assert.equal(classifyRelayError({ code: "ETIMEDOUT", message: "timeout" }).permanent, false);
  });
});
