// Loop detection (RFC 5321 §6.3): counting `Received:` fields in the header section only.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { countReceived } from "../../../src/smtp/hops.ts";

const mail = (s: string) => Buffer.from(s, "latin1");

describe("countReceived", () => {
  it("counts each field once, whatever its case, folded lines included", () => {
    assert.equal(countReceived(mail("Received: from a\r\n\tby b; date\r\nRECEIVED: x\r\nreceived : obsolete form\r\nSubject: s\r\n\r\nbody")), 3);
  });

  it("stops at the first empty line: Received lines in the body are text", () => {
    assert.equal(countReceived(mail("Subject: s\r\nReceived: 1\r\n\r\nReceived: 2\r\nReceived: 3\r\n")), 1);
    assert.equal(countReceived(mail("Received: 1\n\nReceived: 2\n")), 1, "bare LF line ends too");
  });

  it("does not count look-alikes or continuation lines", () => {
    assert.equal(countReceived(mail("X-Received: 1\r\nReceived-SPF: pass\r\n Received: folded\r\nReceivedx: 2\r\n\r\n")), 0);
  });

  it("handles an empty mail and a header section with no end", () => {
    assert.equal(countReceived(Buffer.alloc(0)), 0);
    assert.equal(countReceived(mail("Received: 1\r\nReceived: 2")), 2);
  });
});
