// DNS answers remembered for sender authentication: positive and negative answers for a while, temporary
// failures never, at most so many names.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createDnsCache } from "../../../src/mail/dns-cache.ts";

function counting(answers: Record<string, string[][] | string>) {
  const asked: string[] = [];
  const resolver = async (name: string, rrtype: string) => {
    asked.push(`${rrtype} ${name}`);
    const a = answers[name];
    if (typeof a === "string") throw Object.assign(new Error(`${name}: ${a}`), { code: a });
    return a ?? [];
  };
  return { asked, resolver };
}

describe("dns cache", () => {
  it("answers a repeated question from memory, a copy each time, until ttlMs has passed", async () => {
    let now = 0;
    const { asked, resolver } = counting({ "example.com": [["v=spf1 -all"]] });
    const cached = createDnsCache({ ttlMs: 1000, maxEntries: 10 }, { resolver, now: () => now });
    const first = await cached("example.com", "TXT") as string[][];
    first[0]!.push("changed by a caller");
    assert.deepEqual(await cached("EXAMPLE.com", "TXT"), [["v=spf1 -all"]]);
    assert.equal(asked.length, 1);
    now = 1000;
    await cached("example.com", "TXT");
    assert.equal(asked.length, 2);
  });

  it("shares one query between concurrent lookups of the same name and type", async () => {
    const { asked, resolver } = counting({ "example.com": [["x"]] });
    const cached = createDnsCache({ ttlMs: 1000, maxEntries: 10 }, { resolver, now: () => 0 });
    await Promise.all([cached("example.com", "TXT"), cached("example.com", "TXT"), cached("example.com", "A")]);
    assert.deepEqual(asked, ["TXT example.com", "A example.com"]);
  });

  it("remembers that a name or a record does not exist (RFC 2308), with the same error code", async () => {
    const { asked, resolver } = counting({ "gone.example": "ENOTFOUND", "empty.example": "ENODATA" });
    const cached = createDnsCache({ ttlMs: 1000, maxEntries: 10 }, { resolver, now: () => 0 });
    for (let i = 0; i < 2; i++) {
      await assert.rejects(cached("gone.example", "TXT"), { code: "ENOTFOUND" });
      await assert.rejects(cached("empty.example", "TXT"), { code: "ENODATA" });
    }
    assert.equal(asked.length, 2);
  });

  it("asks again after a temporary failure", async () => {
    const { asked, resolver } = counting({ "flaky.example": "ESERVFAIL", "slow.example": "ETIMEOUT" });
    const cached = createDnsCache({ ttlMs: 1000, maxEntries: 10 }, { resolver, now: () => 0 });
    for (let i = 0; i < 2; i++) {
      await assert.rejects(cached("flaky.example", "TXT"), { code: "ESERVFAIL" });
      await assert.rejects(cached("slow.example", "TXT"), { code: "ETIMEOUT" });
    }
    assert.equal(asked.length, 4);
  });

  it("keeps at most maxEntries answers, forgetting the oldest", async () => {
    const { asked, resolver } = counting({});
    const cached = createDnsCache({ ttlMs: 60_000, maxEntries: 3 }, { resolver, now: () => 0 });
    for (const n of ["a", "b", "c", "d"]) await cached(`${n}.example`, "TXT");
    await cached("d.example", "TXT");
    await cached("b.example", "TXT");
    assert.equal(asked.length, 4, "b, c and d remembered");
    await cached("a.example", "TXT");
    assert.equal(asked.length, 5, "a was forgotten");
  });
});
