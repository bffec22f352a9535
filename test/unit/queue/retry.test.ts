// Retry schedule: pure, tested without a clock.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { DEFAULT_SCHEDULE, retryDelaySeconds } from "../../../src/queue/retry.ts";

describe("retryDelaySeconds", () => {
  it("follows the default schedule: 30 s, 1 min, 5 min, 15 min, 30 min, 1 h", () => {
    assert.deepEqual(DEFAULT_SCHEDULE, [30, 60, 300, 900, 1800, 3600]);
    assert.deepEqual([1, 2, 3, 4, 5, 6].map((n) => retryDelaySeconds(n)), [30, 60, 300, 900, 1800, 3600]);
  });

  it("repeats the last delay once the schedule is exhausted", () => {
    assert.equal(retryDelaySeconds(7), 3600);
    assert.equal(retryDelaySeconds(1000), 3600);
    assert.equal(retryDelaySeconds(Number.MAX_SAFE_INTEGER), 3600);
  });

  it("never decreases as attempts grow", () => {
    let previous = 0;
    for (let n = 1; n <= 50; n++) {
      const delay = retryDelaySeconds(n);
      assert.ok(delay >= previous, `attempt ${n}`);
      previous = delay;
    }
  });

  it("treats zero or negative attempts as the first", () => {
    assert.equal(retryDelaySeconds(0), 30);
    assert.equal(retryDelaySeconds(-3), 30);
  });

  it("uses a given schedule", () => {
    const schedule = [1, 2, 4];
    assert.deepEqual([1, 2, 3, 4, 9].map((n) => retryDelaySeconds(n, schedule)), [1, 2, 4, 4, 4]);
  });

  it("falls back to 60 s for an empty schedule or a non-number of attempts", () => {
    assert.equal(retryDelaySeconds(1, []), 60);
    assert.equal(retryDelaySeconds(5, []), 60);
    assert.equal(retryDelaySeconds(Number.NaN), 60);
  });
});
