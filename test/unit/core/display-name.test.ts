// The From display name of outgoing mail (src/core/display-name.ts): never an address, one bounded line.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { displayName, senderName, MAX_DISPLAY_NAME } from "../../../src/core/display-name.ts";

describe("displayName", () => {
  it("keeps an ordinary name, trimmed, on one line", () => {
    assert.equal(displayName("  Toto Dupont "), "Toto Dupont");
    assert.equal(displayName("Zoë Ångström"), "Zoë Ångström");
    assert.equal(displayName("Toto\r\nBcc: evil"), "Toto Bcc: evil");
    assert.equal(displayName("pay\u200Bpal"), "paypal");
  });

  it("drops a name that is or holds an address, an angle-addr or an encoded word", () => {
    for (const name of ['"ceo@bank.example" <ceo@bank.example>', "ceo@bank.example", "CEO <ceo@bank.example>",
      "Bank <support>", "a > b", "ceo\uFF20bank.example", "ceo\uFE6Bbank.example", "\uFF1Cceo\uFF1E",
      "=?utf-8?Q?ceo=40bank.example?=", "ceo@"]) {
      assert.equal(displayName(name), null, name);
    }
  });

  it("is null for nothing, and bounded in length", () => {
    assert.equal(displayName(null), null);
    assert.equal(displayName(undefined), null);
    assert.equal(displayName(" \u200B\t"), null);
    assert.equal(displayName("x".repeat(500)), "x".repeat(MAX_DISPLAY_NAME));
  });
});

describe("senderName", () => {
  it("takes the nick when it may appear, else the mailbox's name, else none", () => {
    assert.equal(senderName("Toto", "Toto from SQL"), "Toto");
    assert.equal(senderName('"ceo@bank.example" <ceo@bank.example>', "Toto from SQL"), "Toto from SQL");
    assert.equal(senderName(null, "Toto from SQL"), "Toto from SQL");
    assert.equal(senderName("ceo@bank.example", "admin@typo.example"), null);
    assert.equal(senderName(null, null), null);
  });
});
