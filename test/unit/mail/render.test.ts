// Mail headers we write (RFC 5321 §4.4 trace field, RFC 5322 §3.3 date).
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { receivedHeader, rfc5322Date } from "../../../src/mail/render.ts";

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
