// PRECIS UsernameCaseMapped (RFC 8265 §3.3) with the mail repertoire on top.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { precisUsername, scriptsOf, singleScript, widthMap } from "../../../src/core/precis.ts";

const name = (input: string, repertoire: "ascii" | "unicode") => {
  const v = precisUsername(input, repertoire);
  return v.ok ? v.name : null;
};

describe("precisUsername", () => {
  it("maps width, case and NFC: fullwidth, upper case and decomposed forms become the same name", () => {
    assert.equal(widthMap("ｔｏｔｏ"), "toto");
    for (const r of ["ascii", "unicode"] as const) {
      assert.equal(name("ｔｏｔｏ", r), "toto", r);
      assert.equal(name("TOTO", r), "toto", r);
      assert.equal(name(" Toto ", r), "toto", r);
    }
    assert.equal(name("E\u0301lodie", "unicode"), "\u00e9lodie", "NFC after case mapping");
    assert.equal(name("ÉLODIE", "unicode"), "élodie");
  });

  it("ascii: only a-z, digits and . - _ between them; a Cyrillic о is refused, with the reason", () => {
    assert.equal(name("jean-luc.picard_2", "ascii"), "jean-luc.picard_2");
    const cyrillic = precisUsername("t\u043eto", "ascii");
    assert.equal(cyrillic.ok, false);
    assert.match(!cyrillic.ok ? cyrillic.why : "", /ASCII letters/);
    for (const bad of ["élodie", "", ".toto", "toto.", "to..to", "to to", "a,b", "a@b", "a+b", "x".repeat(65), "tot\u202eo", "\"q\""]) {
      assert.equal(name(bad, "ascii"), null, JSON.stringify(bad));
    }
    assert.equal(name("x".repeat(64), "ascii"), "x".repeat(64));
  });

  it("unicode: letters and digits of one script; symbols, spaces, controls and compatibility forms refused", () => {
    assert.equal(name("élodie", "unicode"), "élodie");
    assert.equal(name("\u0442\u043e\u0442\u043e", "unicode"), "тото", "all Cyrillic is one script");
    assert.equal(name("δοκιμή", "unicode"), "δοκιμή");
    assert.equal(name("山田.太郎", "unicode"), "山田.太郎");
    assert.equal(name("やまだ太郎", "unicode"), "やまだ太郎", "Han with Hiragana is Japanese");
    for (const bad of ["t\u043eto", "pаypal"]) { // Latin with a Cyrillic о / а
      const v = precisUsername(bad, "unicode");
      assert.equal(v.ok, false, bad);
      assert.match(!v.ok ? v.why : "", /mixes scripts \(Latin, Cyrillic\)/);
    }
    for (const bad of ["to\u200dto", "to\u00adto", "to\u2028to", "☃man", "to\u00b7to", "ﬁle", "x\u2460", "\u0301toto", "to to", "x".repeat(33) + "é".repeat(16)]) {
      assert.equal(name(bad, "unicode"), null, JSON.stringify(bad));
    }
  });

  it("names a refused character by its code point, and shows its glyph only when it has one", () => {
    assert.deepEqual(precisUsername("to\u0001to", "unicode"), { ok: false,
      why: "The character U+0001 cannot be part of a name: use letters, digits, dots, dashes or underscores." });
    assert.match(precisUsername("a☃b", "unicode").ok ? "" : (precisUsername("a☃b", "unicode") as { why: string }).why, /U\+2603 “☃”/);
  });

  it("a right-to-left name starts with a letter (RFC 5893 §2)", () => {
    assert.equal(name("שלום", "unicode"), "שלום");
    assert.equal(name("1שלום", "unicode"), null);
  });
});

describe("scripts", () => {
  it("finds the scripts of letters and allows the mixtures one writing system uses", () => {
    assert.deepEqual([...scriptsOf("t\u043eto1")], ["Latin", "Cyrillic"]);
    assert.equal(singleScript(new Set(["Latin"])), true);
    assert.equal(singleScript(new Set(["Han", "Katakana"])), true);
    assert.equal(singleScript(new Set(["Latin", "Greek"])), false);
  });
});
