// The memory budget of mail in flight (docs/design.md §Budgets): a total, a share per client, a reserve
// for small mails, holds that grow and are given back once; and the parse pool's bounded waiting queue.
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { createLogger } from "../../../src/log.ts";
import { BudgetSpent, createMemoryBudget, SMALL_BYTES } from "../../../src/mail/memory-budget.ts";
import { createParsePool, type ParsePool } from "../../../src/mail/parse-pool.ts";
import { bombs } from "../../support/bombs.ts";

const MIB = 1024 * 1024;

describe("memory budget", () => {
  it("refuses past a client's share while another client still fits", () => {
    const budget = createMemoryBudget({ totalBytes: 64 * MIB, perClientBytes: 16 * MIB });
    const a = budget.hold("10.0.0.1", 10 * MIB)!;
    assert.ok(a);
    assert.equal(budget.fits("10.0.0.1", 7 * MIB), false);
    assert.equal(budget.hold("10.0.0.1", 7 * MIB), null);
    assert.equal(a.grow(7 * MIB), false, "a hold cannot grow past the share either");
    assert.equal(a.bytes, 10 * MIB, "a refused growth holds nothing more");
    assert.ok(budget.fits("10.0.0.2", 16 * MIB));
    a.release();
    a.release(); // given back once
    assert.equal(budget.held(), 0);
    assert.equal(budget.heldBy("10.0.0.1"), 0);
  });

  it("refuses large mails past seven eighths of the total, and keeps the rest for small mails", () => {
    const budget = createMemoryBudget({ totalBytes: 64 * MIB, perClientBytes: 64 * MIB });
    const holds = [];
    for (let i = 0; i < 7; i++) holds.push(budget.hold(`10.0.0.${i}`, 8 * MIB));
    assert.ok(holds.every(Boolean));
    assert.equal(budget.hold("10.0.1.1", 1 * MIB), null, "a large mail finds no room");
    const small = budget.hold("10.0.1.2", 1024)!;
    assert.ok(small, "a small mail still fits");
    assert.ok(small.grow(SMALL_BYTES - 1024), "up to SMALL_BYTES");
    assert.equal(small.grow(1), false, "but not beyond: it is a large mail now");
    let n = 1;
    while (budget.hold(`10.0.2.${n}`, SMALL_BYTES)) n++;
    assert.equal(budget.held(), 7 * 8 * MIB + n * SMALL_BYTES, "small mails fill the total, not more");
    assert.ok(budget.held() <= 64 * MIB);
  });

  it("exempts a null client (a trusted proxy) from the share, not from the total", () => {
    const budget = createMemoryBudget({ totalBytes: 32 * MIB, perClientBytes: 8 * MIB });
    assert.ok(budget.hold(null, 20 * MIB));
    assert.equal(budget.hold(null, 20 * MIB), null);
  });
});

describe("parse pool queue", () => {
  const pools: ParsePool[] = [];
  after(async () => {
    await Promise.all(pools.map((p) => p.close()));
  });

  it("refuses a refusable mail past the waiting bound with BudgetSpent; the others wait and are read", async () => {
    const pool = createParsePool({ size: 1, timeoutMs: 1000, memoryMb: 64, maxQueued: 2 }, { log: createLogger("silent") });
    pools.push(pool);
    const slow = bombs.html();
    const first = pool.read(slow, { refusable: true }); // runs
    const waiting = [pool.read(slow, { refusable: true }), pool.read(slow, { refusable: true })];
    await assert.rejects(pool.read(slow, { refusable: true }), BudgetSpent);
    const patient = pool.read(Buffer.from("Subject: not refusable\r\n\r\nhello\r\n")); // waits past the bound
    const reads = await Promise.all([first, ...waiting, patient]);
    assert.equal(reads.length, 4);
    assert.equal(reads[3]!.mail.subject, "not refusable");
    // Room again once the queue has drained.
    assert.equal((await pool.read(Buffer.from("Subject: later\r\n\r\nx\r\n"), { refusable: true })).mail.subject, "later");
  });
});
