import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createMailboxCache } from "../../../src/store/mailbox-cache.ts";

interface Box { address: string; enabled: boolean }

function setup(table: Map<string, Box>, config = { max: 100, ttlMs: 60_000, proofTimeoutMs: 50 }) {
  let now = 0;
  const asked: string[] = [];
  let gate: Promise<void> | null = null;
  const heard: { before: (() => void) | null; fail: boolean; hang: boolean; rounds: number } = { before: null, fail: false, hang: false, rounds: 0 };
  const cache = createMailboxCache<Box>(config, {
    heard: async () => {
      heard.rounds++;
      heard.before?.(); // what the listener receives ahead of the round trip's answer
      if (heard.fail) throw new Error("not listening");
      if (heard.hang) await new Promise(() => undefined); // a listening session that never answers
    },
    find: async (address) => {
      asked.push(address);
      const answer = table.get(address.toLowerCase());
      if (gate) await gate;
      return answer && { ...answer };
    },
    now: () => now,
  });
  return { cache, asked, heard, advance: (ms: number) => { now += ms; }, hold: (p: Promise<void> | null) => { gate = p; } };
}

describe("mailbox cache (RCPT lookups)", () => {
  const toto = (enabled = true): Box => ({ address: "toto@x.test", enabled });

  it("reads the database every time until the listener says it is connected", async () => {
    const { cache, asked } = setup(new Map([["toto@x.test", toto()]]));
    await cache.find("toto@x.test");
    await cache.find("toto@x.test");
    assert.equal(asked.length, 2);
    cache.hear("all");
    await cache.find("toto@x.test");
    await cache.find("TOTO@x.test");
    assert.equal(asked.length, 3, "remembered, case-insensitively");
  });

  it("forgets everything on a mailboxes notice, a reconnect or a lost listener; ignores delivery notices", async () => {
    const table = new Map([["toto@x.test", toto()]]);
    const { cache, asked } = setup(table);
    cache.hear("all");
    await cache.find("toto@x.test");
    cache.hear("inbound");
    cache.hear("outbound");
    await cache.find("toto@x.test");
    assert.equal(asked.length, 1);
    table.set("toto@x.test", toto(false));
    cache.hear("mailboxes");
    assert.equal((await cache.find("toto@x.test"))?.enabled, false, "the change applies to the next lookup");
    table.set("toto@x.test", toto());
    cache.hear("all");
    await cache.find("toto@x.test");
    cache.hear("lost");
    await cache.find("toto@x.test");
    await cache.find("toto@x.test");
    assert.equal(asked.length, 5, "no remembering while notices may be missed");
  });

  it("never remembers an unknown or disabled address (a 550 must come from the database)", async () => {
    const table = new Map([["off@x.test", { address: "off@x.test", enabled: false }]]);
    const { cache, asked } = setup(table);
    cache.hear("all");
    assert.equal(await cache.find("nobody@x.test"), undefined);
    assert.equal(await cache.find("nobody@x.test"), undefined);
    assert.equal((await cache.find("off@x.test"))?.enabled, false);
    assert.equal((await cache.find("off@x.test"))?.enabled, false);
    assert.equal(asked.length, 4);
  });

  it("does not remember an answer read while a change was being notified", async () => {
    const table = new Map([["toto@x.test", toto()]]);
    const { cache, asked, hold } = setup(table);
    cache.hear("all");
    let open!: () => void;
    hold(new Promise<void>((r) => { open = r; }));
    const pending = cache.find("toto@x.test");
    cache.hear("mailboxes");
    hold(null);
    open();
    await pending;
    await cache.find("toto@x.test");
    assert.equal(asked.length, 2);
  });

  it("uses a remembered answer only after the round trip proves no change was notified before the RCPT", async () => {
    const table = new Map([["toto@x.test", toto()]]);
    const { cache, asked, heard } = setup(table);
    cache.hear("all");
    await cache.find("toto@x.test");
    assert.equal(heard.rounds, 0, "a database read needs no proof");
    await cache.find("toto@x.test");
    assert.equal(heard.rounds, 1);
    assert.equal(asked.length, 1);
    // A change committed just before this RCPT: its notice arrives ahead of the round trip's answer.
    table.set("toto@x.test", toto(false));
    heard.before = () => cache.hear("mailboxes");
    assert.equal((await cache.find("toto@x.test"))?.enabled, false, "read again, not answered from memory");
    heard.before = null;
    table.set("toto@x.test", toto());
    await cache.find("toto@x.test");
    heard.fail = true;
    await cache.find("toto@x.test");
    assert.equal(asked.length, 4, "no proof (listener down): read from the database");
    heard.fail = false;
    heard.hang = true;
    await cache.find("toto@x.test");
    assert.equal(asked.length, 5, "no proof in time (listener stuck): read from the database");
  });

  it("reads again after the time to live and keeps at most `max` addresses", async () => {
    const table = new Map(["a", "b", "c"].map((n) => [`${n}@x.test`, { address: `${n}@x.test`, enabled: true }]));
    const { cache, asked, advance } = setup(table, { max: 2, ttlMs: 1000, proofTimeoutMs: 50 });
    cache.hear("all");
    await cache.find("a@x.test");
    advance(999);
    await cache.find("a@x.test");
    assert.equal(asked.length, 1);
    advance(1);
    await cache.find("a@x.test");
    assert.equal(asked.length, 2, "expired");
    await cache.find("b@x.test");
    await cache.find("c@x.test");
    await cache.find("a@x.test");
    assert.equal(asked.length, 5, "a was the oldest and went first");
  });
});
