// One status for a user's resources (src/core/presence-status.ts), RFC 6121 §4.7.2.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readPresence, summarize } from "../../../src/core/presence-status.ts";

describe("readPresence", () => {
  it("reads show, priority and status, with RFC 6121 defaults", () => {
    assert.deepEqual(readPresence(undefined, undefined, undefined), { status: "online", priority: 0, message: null });
    assert.deepEqual(readPresence("away", "5", " lunch "), { status: "away", priority: 5, message: "lunch" });
    assert.deepEqual(readPresence("dnd", "-1", ""), { status: "dnd", priority: -1, message: null });
  });
  it("treats an unknown show as online and a bad priority as 0, clamped to a byte", () => {
    assert.equal(readPresence("sleeping", undefined, undefined).status, "online");
    assert.equal(readPresence(undefined, "high", undefined).priority, 0);
    assert.equal(readPresence(undefined, "999", undefined).priority, 127);
    assert.equal(readPresence(undefined, "1e3", undefined).priority, 0);
  });
  it("bounds the status message to one clean line", () => {
    const p = readPresence(undefined, undefined, `a\u202Eb\n${"x".repeat(500)}\u0000`);
    assert.ok(p.message!.length <= 80);
    assert.ok(!/[\n\u202E\u0000]/.test(p.message!));
  });
});

describe("summarize", () => {
  it("is offline without an available resource", () => {
    assert.deepEqual(summarize([]), { status: "offline", message: null });
  });
  it("lets the highest priority speak, ties to the most available", () => {
    const phone = { status: "away" as const, priority: 10, message: "on the phone" };
    const desk = { status: "online" as const, priority: 5, message: null };
    assert.deepEqual(summarize([desk, phone]), { status: "away", message: "on the phone" });
    assert.equal(summarize([{ ...desk, priority: 10 }, phone]).status, "online");
    assert.equal(summarize([{ status: "xa", priority: 0, message: null }, { status: "dnd", priority: 0, message: null }]).status, "dnd");
  });
});
