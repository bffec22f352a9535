// What a mail's SPF/DKIM/DMARC verdict leads to.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { judge, type AuthFacts } from "../../../src/core/auth-policy.ts";

const facts = (over: Partial<AuthFacts>): AuthFacts => ({
  fromDomain: "example.com", dmarc: "none", policy: null, aligned: false, spfTemperror: false, otherTemperror: false, ...over,
});
const mark = { mode: "mark" as const, ourDomains: ["jabber.example.org"] };
const strict = { mode: "strict" as const, ourDomains: ["jabber.example.org"] };

describe("judge", () => {
  it("DMARC pass, or SPF/DKIM aligned without a record: verified, no warning", () => {
    assert.deepEqual(judge(facts({ dmarc: "pass", policy: "reject", aligned: true }), mark), { kind: "accept", verified: true, warning: null });
    assert.deepEqual(judge(facts({ aligned: true }), mark), { kind: "accept", verified: true, warning: null });
  });

  it("no authentication at all: accepted, marked unverified", () => {
    assert.deepEqual(judge(facts({}), mark), { kind: "accept", verified: false, warning: null });
    assert.deepEqual(judge(facts({ fromDomain: null, dmarc: null }), mark), { kind: "accept", verified: false, warning: null });
  });

  it("DMARC fail under p=reject or p=quarantine: a warning (DMARCbis), or 550 5.7.1 in strict mode", () => {
    for (const policy of ["reject", "quarantine"] as const) {
      const d = judge(facts({ dmarc: "fail", policy }), mark);
      assert.equal(d.kind === "accept" && d.warning, `failed authentication: example.com did not send this (its policy says ${policy})`);
      assert.deepEqual(judge(facts({ dmarc: "fail", policy }), strict),
        { kind: "refuse", code: 550, enhanced: "5.7.1", text: "Rejected by DMARC policy of example.com" });
    }
    assert.deepEqual(judge(facts({ dmarc: "fail", policy: "none" }), strict), { kind: "accept", verified: false, warning: null });
  });

  it("our own domain in From must be authenticated, in every mode", () => {
    const ours = facts({ fromDomain: "jabber.example.org" });
    assert.equal(judge(ours, mark).kind, "refuse");
    assert.deepEqual(judge({ ...ours, aligned: true }, mark), { kind: "accept", verified: true, warning: null });
  });

  it("temporary DNS trouble: 451 (4.7.24 for SPF), unless the mail is authenticated anyway", () => {
    assert.deepEqual(judge(facts({ spfTemperror: true }), mark),
      { kind: "refuse", code: 451, enhanced: "4.7.24", text: "Temporary DNS failure while authenticating the sender; try again later" });
    assert.equal(judge(facts({ dmarc: "temperror" }), mark).kind === "refuse" && "4.7.0", "4.7.0");
    assert.equal(judge(facts({ otherTemperror: true, aligned: true }), mark).kind, "accept");
  });
});
