// List and automatic mail (RFC 2919, RFC 3834, RFC 2369): marked in chat, never answered automatically.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { classifyHeaders } from "../../../src/mail/automatic.ts";

const headers = (...lines: string[]) => lines.map((line) => ({ key: line.slice(0, line.indexOf(":")).toLowerCase(), line }));

describe("classifyHeaders", () => {
  it("is neither for a person's mail, nor for Auto-Submitted: no", () => {
    assert.deepEqual(classifyHeaders(headers("From: a@x.example", "Subject: hi")), { automatic: false, listId: null });
    assert.deepEqual(classifyHeaders(headers("Auto-Submitted: no")), { automatic: false, listId: null });
    assert.deepEqual(classifyHeaders(headers("Precedence: first-class")), { automatic: false, listId: null });
  });

  it("takes the List-Id in angle brackets, or the whole value, unfolded and cleaned", () => {
    assert.deepEqual(classifyHeaders(headers("List-Id: Developers of Example\r\n <dev.lists.example.org>")), { automatic: true, listId: "dev.lists.example.org" });
    assert.deepEqual(classifyHeaders(headers("List-Id: dev.lists.example.org")), { automatic: true, listId: "dev.lists.example.org" });
    assert.deepEqual(classifyHeaders(headers("List-Id: <ev\u202eil.example>")), { automatic: true, listId: "evil.example" });
  });

  it("is automatic for Auto-Submitted other than no, Precedence bulk/list/junk, list headers, reports and old vacation headers", () => {
    for (const line of ["Auto-Submitted: auto-replied", "Auto-Submitted: auto-generated; owner-email=x@y", "Precedence: bulk",
      "Precedence: junk", "Precedence: LIST", "List-Unsubscribe: <https://x.example/u>", "List-Post: <mailto:l@x.example>",
      "Content-Type: multipart/report; report-type=delivery-status; boundary=x", "X-Autoreply: yes", "X-Autorespond: yes"]) {
      assert.equal(classifyHeaders(headers(line)).automatic, true, line);
    }
  });
});
