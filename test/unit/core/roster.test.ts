import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { decide, mustLook, rosterName, settled } from "../../../src/core/roster.ts";

describe("roster decisions (docs/design.md §Roster and privileges)", () => {
  it("names an item after the display name, or the address when it has none or looks like one", () => {
    assert.equal(rosterName("Alice Martin", "alice@example.com"), "Alice Martin");
    assert.equal(rosterName(null, "alice@example.com"), "alice@example.com");
    assert.equal(rosterName("ceo@bank.example", "x@evil.example"), "x@evil.example");
  });

  it("adds a new correspondent, and names an unnamed item the user had; leaves a named one to the user", () => {
    assert.deepEqual(decide(null, null, "Alice", "E-mail"),
      { set: { name: "Alice", groups: ["E-mail"] }, record: { state: "added", name: "Alice" }, result: "added" });
    assert.deepEqual(decide(null, { name: null, groups: ["Work"] }, "Alice", "E-mail").set, { name: "Alice", groups: ["Work"] });
    assert.deepEqual(decide(null, { name: "Ally", groups: [] }, "Alice", "E-mail"),
      { set: null, record: { state: "user", name: "Ally" }, result: "exists" });
  });

  it("renames its own item, never one the user renamed, never re-adds one the user removed", () => {
    const ours = { state: "added" as const, name: "Alice" };
    assert.deepEqual(decide(ours, { name: "Alice", groups: ["E-mail"] }, "Alice M.", "E-mail").set, { name: "Alice M.", groups: ["E-mail"] });
    assert.deepEqual(decide(ours, { name: "Ally", groups: ["E-mail"] }, "Alice M.", "E-mail"),
      { set: null, record: { state: "user", name: "Ally" }, result: "exists" });
    assert.deepEqual(decide(ours, null, "Alice M.", "E-mail"), { set: null, record: { state: "removed", name: "Alice" }, result: "removed" });
    assert.deepEqual(decide({ state: "removed", name: "Alice" }, null, "Alice", "E-mail").set, null);
    assert.deepEqual(decide({ state: "user", name: "Ally" }, { name: "Ally", groups: [] }, "Alice", "E-mail").set, null);
  });

  it("reads the roster only when something may change, or when asked", () => {
    assert.equal(mustLook(null, "A", false), true);
    assert.equal(mustLook({ state: "added", name: "A" }, "A", false), false);
    assert.equal(mustLook({ state: "added", name: "A" }, "B", false), true);
    assert.equal(mustLook({ state: "added", name: "A" }, "A", true), true);
    assert.equal(mustLook({ state: "removed", name: "A" }, "B", true), false);
    assert.equal(settled({ state: "removed", name: "A" }), "removed");
    assert.equal(settled({ state: "user", name: "A" }), "exists");
  });
});
