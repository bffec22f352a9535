// Budgets of what a party sends the gateway (docs/design.md §Budgets): per bare JID, per subscription
// stanza, per remote domain — the home server's users are never counted as one domain.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { budgetKeys, createStanzaBudget } from "../../../src/core/stanza-budget.ts";

const LOCAL = ["jabber.example"];
const budget = (over: Partial<Parameters<typeof createStanzaBudget>[0]> = {}, clock = { t: 0 }) =>
  createStanzaBudget({ senderPerMinute: 5, subscriptionsPerMinute: 2, domainPerMinute: 8, localDomains: LOCAL, ...over },
    { now: () => clock.t });

describe("budget keys", () => {
  it("a remote sender counts for its bare JID and its domain, resource and case aside", () => {
    assert.deepEqual(budgetKeys("Eve@Remote.Example/phone", LOCAL), { sender: "eve@remote.example", domain: "remote.example" });
  });
  it("a user of the home server counts for its bare JID only", () => {
    assert.deepEqual(budgetKeys("toto@jabber.example/pc", LOCAL), { sender: "toto@jabber.example", domain: null });
    assert.deepEqual(budgetKeys("JABBER.example", LOCAL), { sender: "jabber.example", domain: null });
  });
  it("a server JID is its own domain; no sender is no key", () => {
    assert.deepEqual(budgetKeys("remote.example", LOCAL), { sender: "remote.example", domain: "remote.example" });
    assert.equal(budgetKeys(undefined, LOCAL), null);
    assert.equal(budgetKeys("", LOCAL), null);
  });
});

describe("stanza budget", () => {
  it("one sender's burst is spent, another sender of the home server is still served", () => {
    const b = budget();
    for (let i = 0; i < 5; i++) assert.equal(b.admit("message", "toto@jabber.example/a"), null);
    assert.equal(b.admit("iq", "toto@jabber.example/b"), "sender");
    assert.equal(b.admit("message", "titi@jabber.example/a"), null);
  });

  it("many JIDs of one remote domain spend the domain's budget; other domains are still served", () => {
    const b = budget();
    const spent = Array.from({ length: 10 }, (_, i) => b.admit("presence", `u${i}@remote.example`));
    assert.deepEqual(spent, [null, null, null, null, null, null, null, null, "domain", "domain"]);
    assert.equal(b.admit("presence", "u0@other.example"), null);
    // The home server's users never share one bucket.
    for (let i = 0; i < 20; i++) assert.equal(b.admit("presence", `u${i}@jabber.example`), null);
  });

  it("subscription stanzas have their own, smaller budget; other presence still passes", () => {
    const b = budget();
    assert.equal(b.admit("subscription", "eve@remote.example"), null);
    assert.equal(b.admit("subscription", "eve@remote.example"), null);
    assert.equal(b.admit("subscription", "eve@remote.example"), "subscriptions");
    assert.equal(b.admit("presence", "eve@remote.example"), null);
  });

  it("refills with time", () => {
    const clock = { t: 0 };
    const b = budget({}, clock);
    for (let i = 0; i < 5; i++) b.admit("iq", "toto@jabber.example");
    assert.equal(b.admit("iq", "toto@jabber.example"), "sender");
    clock.t += 12_000; // 5 a minute: one back every 12 s
    assert.equal(b.admit("iq", "toto@jabber.example"), null);
    assert.equal(b.admit("iq", "toto@jabber.example"), "sender");
  });

  it("0 turns a limit off", () => {
    const b = budget({ senderPerMinute: 0, domainPerMinute: 0 });
    for (let i = 0; i < 100; i++) assert.equal(b.admit("message", "eve@remote.example"), null);
  });

  it("refusals say in words which budget was spent", () => {
    const b = budget();
    assert.match(b.text("sender", "eve@remote.example"), /more than 5 stanzas in a minute/);
    assert.match(b.text("domain", "eve@remote.example/x"), /from remote\.example/);
    assert.match(b.text("queue", "eve@remote.example"), /earlier stanzas/);
  });
});
