// The XEP-0050 session table alone, with a hand-driven clock: shares per user, the overall cap, expiry.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createCommandSessions } from "../../../src/xmpp/command-sessions.ts";

const setup = (perUser: number, overall: number) => {
  let t = 0;
  const table = createCommandSessions({ perUser, overall, ttlMs: 1000 }, { now: () => t, isAdmin: (j) => j === "boss@x" });
  return { table, advance: (ms: number) => { t += ms; } };
};

describe("createCommandSessions", () => {
  it("keeps a user's last sessions: one more gives up their oldest, which then no longer completes", () => {
    const { table } = setup(3, 100);
    const opened = Array.from({ length: 5 }, () => table.open("a@x", "n"));
    assert.equal(table.held("a@x"), 3);
    assert.deepEqual(opened.map((o) => o.gaveUp), [null, null, null, opened[0]!.id, opened[1]!.id]);
    assert.equal(table.take(opened[0]!.id, "a@x", "n"), false, "given up");
    assert.equal(table.take(opened[4]!.id, "a@x", "n"), true, "the latest works");
    assert.equal(table.take(opened[4]!.id, "a@x", "n"), false, "once");
    assert.equal(table.held("a@x"), 2);
  });

  it("one account never blocks another: thousands of opens hold only its share", () => {
    const { table } = setup(5, 10);
    for (let i = 0; i < 5000; i++) table.open("flood@x", "n");
    assert.equal(table.held("flood@x"), 5);
    const other = table.open("b@x", "n");
    assert.equal(other.gaveUp, null);
    assert.equal(table.take(other.id, "b@x", "n"), true);
  });

  it("full overall: holders trade their oldest, accounts with none and administrators still get one", () => {
    const { table } = setup(5, 4);
    for (const u of ["a@x", "b@x"]) for (let i = 0; i < 2; i++) table.open(u, "n");
    assert.equal(table.size(), 4);
    const a = table.open("a@x", "n");
    assert.ok(a.gaveUp, "a holder trades");
    assert.equal(table.size(), 4, "the table does not grow for holders");
    const c = table.open("c@x", "n");
    assert.equal(c.gaveUp, null, "an account with none is never refused");
    for (let i = 0; i < 5; i++) assert.equal(table.open("boss@x", "n").gaveUp, null, "administrators are not held by the overall cap");
    assert.equal(table.open("boss@x", "n").gaveUp !== null, true, "but by their own share");
    assert.equal(table.held("boss@x"), 5);
  });

  it("refuses a session to another JID or node without ending it", () => {
    const { table } = setup(5, 10);
    const { id } = table.open("a@x", "n");
    assert.equal(table.take(id, "b@x", "n"), false);
    assert.equal(table.take(id, "a@x", "other"), false);
    assert.equal(table.take("nope", "a@x", "n"), false);
    assert.equal(table.take(id, "a@x", "n"), true);
  });

  it("expires untouched sessions and forgets users who hold none", () => {
    const { table, advance } = setup(5, 10);
    const old = table.open("a@x", "n");
    advance(600);
    const young = table.open("a@x", "n");
    table.open("b@x", "n");
    advance(500);
    assert.equal(table.take(old.id, "a@x", "n"), false, "expired");
    assert.equal(table.size(), 2);
    advance(600);
    assert.equal(table.size(), 0);
    assert.equal(table.take(young.id, "a@x", "n"), false);
    assert.equal(table.held("a@x"), 0);
  });
});
