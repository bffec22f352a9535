// Confusable names (Unicode TR39 §4) with the bounded table of src/core/confusables.ts.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { addressSkeleton, skeleton } from "../../../src/core/skeleton.ts";

describe("skeleton", () => {
  it("gives look-alikes of toto the same skeleton: Cyrillic, Greek, fullwidth, mathematical, upper case", () => {
    const toto = skeleton("toto");
    for (const alike of ["t\u043eto", "t\u03bfto", "\u0442\u043e\u0442\u043e", "ｔｏｔｏ", "TOTO", "T\u041eTO", "t0to", "\ud835\udc2d\ud835\udc28\ud835\udc2d\ud835\udc28", "to\u200bto"]) {
      assert.equal(skeleton(alike), toto, JSON.stringify(alike));
    }
  });

  it("meets the classic ASCII pairs: 1/l/I, 0/o, rn/m", () => {
    assert.equal(skeleton("paypa1"), skeleton("paypal"));
    assert.equal(skeleton("PAYPAI"), skeleton("paypal"));
    assert.equal(skeleton("rnodern"), skeleton("modern"));
    assert.equal(skeleton("g00gle"), skeleton("google"));
  });

  it("keeps different names apart", () => {
    assert.notEqual(skeleton("toto"), skeleton("tata"));
    assert.notEqual(skeleton("élodie"), skeleton("elodie"), "an accent is a different letter (TR39 keeps marks)");
    assert.notEqual(skeleton("bob"), skeleton("bobby"));
  });

  it("compares within one domain", () => {
    assert.equal(addressSkeleton("t\u043eto", "Jabber.Test"), "toto@jabber.test");
    assert.notEqual(addressSkeleton("toto", "a.example"), addressSkeleton("toto", "b.example"));
  });
});
