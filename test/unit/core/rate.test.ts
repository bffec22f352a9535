// The token bucket of core/rate.ts with a hand-driven clock: bursts, refills, keys apart, bounded memory.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createRateLimiter } from "../../../src/core/rate.ts";

const clock = () => { let t = 1_000_000; return { now: () => t, advance: (ms: number) => { t += ms; } }; };
const takes = (take: () => boolean, n: number) => Array.from({ length: n }, take).filter(Boolean).length;

describe("createRateLimiter", () => {
  it("allows the burst at once, then one take per refill interval", () => {
    const c = clock();
    const rate = createRateLimiter({ perMinute: 30, burst: 5 }, c);
    assert.equal(takes(() => rate.take("a"), 100), 5);
    c.advance(1_999);
    assert.equal(rate.take("a"), false, "not yet one token: 30/min is one every 2 s");
    c.advance(1);
    assert.equal(rate.take("a"), true);
    assert.equal(rate.take("a"), false);
    c.advance(60 * 60_000);
    assert.equal(takes(() => rate.take("a"), 100), 5, "refills up to the burst, not beyond");
  });

  it("keeps keys apart and defaults the burst to the rate", () => {
    const c = clock();
    const rate = createRateLimiter({ perMinute: 3 }, c);
    assert.equal(takes(() => rate.take("a"), 10), 3);
    assert.equal(takes(() => rate.take("b"), 10), 3, "another key has its own bucket");
    assert.equal(rate.take("a"), false);
  });

  it("refusals do not count: a refused key refills as if it had waited quietly", () => {
    const c = clock();
    const rate = createRateLimiter({ perMinute: 60, burst: 1 }, c);
    assert.equal(rate.take("a"), true);
    for (let i = 0; i < 10; i++) { c.advance(50); rate.take("a"); }
    c.advance(500);
    assert.equal(rate.take("a"), true);
  });

  it("is off at perMinute 0", () => {
    const rate = createRateLimiter({ perMinute: 0 }, clock());
    assert.equal(takes(() => rate.take("a"), 1000), 1000);
    assert.equal(rate.size(), 0);
  });

  it("remembers at most maxKeys, forgetting full buckets and then the least recently used", () => {
    const c = clock();
    const rate = createRateLimiter({ perMinute: 1, burst: 2, maxKeys: 100 }, c);
    for (let i = 0; i < 10_000; i++) rate.take(`k${i}`);
    assert.ok(rate.size() <= 100, `size ${rate.size()}`);
    const busy = createRateLimiter({ perMinute: 1, burst: 1, maxKeys: 10 }, c);
    busy.take("hot");
    for (let i = 0; i < 8; i++) busy.take(`cold${i}`);
    busy.take("hot");
    busy.take("new1"); busy.take("new2");
    assert.equal(busy.take("hot"), false, "the recently used key is kept, so its bucket stays empty");
  });
});
