import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createGreetingPolicy } from "../../../src/smtp/greeting.ts";

describe("pregreet test memory (postscreen_greet_ttl)", () => {
  it("holds a new address, greets a passed one at once until its time runs out, forgets the oldest first", () => {
    let now = 0;
    const policy = createGreetingPolicy({ waitMs: 100, passTtlMs: 1000, max: 2 }, { now: () => now });
    assert.equal(policy.waitFor("192.0.2.1"), 100);
    assert.equal(policy.waitFor(undefined), 100);
    policy.passed("192.0.2.1");
    assert.equal(policy.waitFor("192.0.2.1"), 0);
    now = 999;
    assert.equal(policy.waitFor("192.0.2.1"), 0);
    now = 1000;
    assert.equal(policy.waitFor("192.0.2.1"), 100, "tested again after the time to live");
    policy.passed("192.0.2.1");
    policy.passed("192.0.2.2");
    policy.passed("192.0.2.3");
    assert.equal(policy.waitFor("192.0.2.1"), 100, "the oldest went first");
    assert.equal(policy.waitFor("192.0.2.3"), 0);
  });

  it("remembers nothing when the time to live is 0", () => {
    const policy = createGreetingPolicy({ waitMs: 100, passTtlMs: 0, max: 10 }, { now: () => 0 });
    policy.passed("192.0.2.1");
    assert.equal(policy.waitFor("192.0.2.1"), 100);
  });
});
