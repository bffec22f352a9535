// The blocked-sender value the RCPT lookup carries.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { senderHash } from "../../../src/core/sender-hash.ts";

describe("senderHash", () => {
  it("ignores case, differs between addresses, and is an exact integer of at most 48 bits", () => {
    assert.equal(senderHash("Bob@Example.COM"), senderHash("bob@example.com"));
    assert.notEqual(senderHash("bob@example.com"), senderHash("bob@example.org"));
    const values = new Set(Array.from({ length: 2000 }, (_, i) => senderHash(`user${i}@example.com`)));
    assert.equal(values.size, 2000);
    for (const v of values) assert.ok(Number.isSafeInteger(v) && v >= 0 && v < 2 ** 48);
  });
});
