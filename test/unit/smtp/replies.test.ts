// RFC 3463 codes on every SMTP reply (RFC 2034 §3): src/smtp/replies.ts.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { enhancedCodeFor, queuedAs, replies, withEnhancedCode } from "../../../src/smtp/replies.ts";

const CODED = /^[245]\.\d{1,3}\.\d{1,3} /;

describe("our replies", () => {
  it("each carries a code of its own class", () => {
    for (const [name, make] of Object.entries(replies)) {
      const reply = (make as (n: number) => { responseCode: number; message: string })(3);
      assert.match(reply.message, CODED, name);
      assert.equal(reply.message[0], String(reply.responseCode)[0], name);
    }
    assert.match(queuedAs("abc"), /^2\.0\.0 /);
  });
});

describe("withEnhancedCode", () => {
  it("puts a code in front of smtp-server's bare replies", () => {
    assert.equal(withEnhancedCode(421, "Timeout - closing connection"), "4.4.2 Timeout - closing connection");
    assert.equal(withEnhancedCode(421, "Server shutting down", "EHLO"), "4.3.2 Server shutting down");
    assert.equal(withEnhancedCode(421, "mx You talk too soon", "EHLO"), "4.7.0 mx You talk too soon");
    assert.equal(withEnhancedCode(421, "mx Too many connected clients, try again in a moment", false), "4.3.2 mx Too many connected clients, try again in a moment");
    assert.equal(withEnhancedCode(500, "Error: command not recognized", "BOGUS"), "5.5.2 Error: command not recognized");
    assert.equal(withEnhancedCode(501, "Error: Bad hostname syntax", false), "5.5.4 Error: Bad hostname syntax");
    assert.equal(withEnhancedCode(503, "Error: need RCPT command"), "5.5.1 Error: need RCPT command");
    assert.equal(withEnhancedCode(250, "Accepted", "RCPT_TO_OK"), "2.1.5 Accepted");
    assert.equal(withEnhancedCode(221, "Bye"), "2.0.0 Bye");
    assert.equal(withEnhancedCode(220, "Ready to start TLS"), "2.0.0 Ready to start TLS");
  });

  it("leaves alone a text that has one, 3xx, and the greeting and EHLO lines", () => {
    assert.equal(withEnhancedCode(550, "5.1.1 No such mailbox here"), "5.1.1 No such mailbox here");
    assert.equal(withEnhancedCode(421, "4.4.2 mx Error: timeout exceeded, closing connection", false), "4.4.2 mx Error: timeout exceeded, closing connection");
    assert.equal(withEnhancedCode(354, "End data with <CR><LF>.<CR><LF>"), "End data with <CR><LF>.<CR><LF>");
    assert.equal(withEnhancedCode(220, "mx ESMTP Passerelle", false), "mx ESMTP Passerelle");
    assert.deepEqual(withEnhancedCode(250, ["mx Nice to meet you", "PIPELINING"], false), ["mx Nice to meet you", "PIPELINING"]);
  });

  it("falls back to the class's X.0.0", () => {
    assert.equal(enhancedCodeFor(455, "whatever"), "4.0.0");
    assert.equal(enhancedCodeFor(421, "Error: read ECONNRESET"), "4.0.0");
    assert.equal(enhancedCodeFor(299, "odd"), "2.0.0");
  });
});
