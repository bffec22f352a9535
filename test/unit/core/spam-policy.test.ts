// What rspamd's action leads to at DATA, and the verdict in words.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { describeVerdict, judgeSpam } from "../../../src/core/spam-policy.ts";
import { spamMarker } from "../../../src/core/translate.ts";
import type { ParsedMail, SpamVerdict } from "../../../src/core/types.ts";

const verdict = (action: string | null, score = 1): SpamVerdict => ({ action, score, required: 15, symbols: ["A", "B"] });
const outcome = (action: string | null) => ({ kind: "verdict" as const, verdict: verdict(action) });

describe("judgeSpam", () => {
  it("reject: 550 5.7.1; soft reject and greylist: 451 4.7.1", () => {
    assert.deepEqual(judgeSpam(outcome("reject"), "tempfail"), { kind: "refuse", code: 550, text: "5.7.1 Message refused as spam" });
    for (const a of ["soft reject", "greylist"]) {
      const d = judgeSpam(outcome(a), "accept");
      assert.equal(d.kind, "refuse");
      assert.equal(d.kind === "refuse" && d.code, 451);
      assert.match(d.kind === "refuse" ? d.text : "", /^4\.7\.1 /);
    }
  });

  it("add header and rewrite subject: accepted as spam; no action and unknown actions: accepted", () => {
    for (const a of ["add header", "rewrite subject"]) assert.deepEqual(judgeSpam(outcome(a), "tempfail"), { kind: "accept", verdict: verdict(a), spam: true });
    for (const a of ["no action", "something new", null]) assert.deepEqual(judgeSpam(outcome(a), "tempfail"), { kind: "accept", verdict: verdict(a), spam: false });
  });

  it("unavailable: 451 4.7.0, or accepted unfiltered with the reason", () => {
    assert.deepEqual(judgeSpam({ kind: "unavailable", why: "unreachable" }, "tempfail"),
      { kind: "refuse", code: 451, text: "4.7.0 Temporary failure while checking the mail for spam; try again later" });
    assert.deepEqual(judgeSpam({ kind: "unavailable", why: "busy" }, "accept"),
      { kind: "accept", spam: false, verdict: { action: null, score: null, required: null, symbols: [], unfiltered: "busy" } });
  });
});

describe("describeVerdict and the chat marker", () => {
  it("says the action, the score against the threshold, and the symbols", () => {
    assert.equal(describeVerdict(verdict("add header", 6)), "add header, score 6 / 15: A, B");
    assert.equal(describeVerdict({ action: null, score: null, required: null, symbols: [], unfiltered: "no answer within 5000 ms" }),
      "not checked (no answer within 5000 ms)");
  });

  it("marks spam and unfiltered mail, nothing else", () => {
    const mail = (spam: SpamVerdict | null) => ({ spam }) as ParsedMail;
    assert.equal(spamMarker(mail(verdict("add header", 6.5))), "[spam 6.5]");
    assert.equal(spamMarker(mail(verdict("rewrite subject", 9))), "[spam 9]");
    assert.equal(spamMarker(mail(verdict("no action", -1))), "");
    assert.equal(spamMarker(mail(null)), "");
    assert.equal(spamMarker(mail({ action: null, score: null, required: null, symbols: [], unfiltered: "x" })), "[not checked for spam]");
  });
});
