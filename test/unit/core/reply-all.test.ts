// Reply all (RFC 5322 §3.6.3): the answered mail's others, from the address lists its parse stored.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { MAX_CC, parseAddressList, replyRecipients } from "../../../src/core/reply-all.ts";
import type { MailAddress } from "../../../src/core/types.ts";

const DAVE = "dave@example.net" as MailAddress;

describe("parseAddressList", () => {
  it("reads the lists the parse stores (mailparser's form): quoted names, bare addresses, escapes", () => {
    assert.deepEqual(parseAddressList('"Dave Moreau" <dave@example.net>, eve@example.net, "Zoé \\"Z\\", Esq." <zoe@example.org>'), [
      { address: "dave@example.net", name: "Dave Moreau" },
      { address: "eve@example.net", name: null },
      { address: "zoe@example.org", name: 'Zoé "Z", Esq.' },
    ]);
  });

  it("reads unquoted names, bare angle addresses and group members; skips what is no address", () => {
    assert.deepEqual(parseAddressList('Frank Weber <frank@example.de>, <g@example.com>, "Team": h@example.com, i@example.com;, undisclosed-recipients:;, nonsense'), [
      { address: "frank@example.de", name: "Frank Weber" },
      { address: "g@example.com", name: null },
      { address: "h@example.com", name: null },
      { address: "i@example.com", name: null },
    ]);
  });

  it("drops a name that reads as an address, and an address too long for a header line", () => {
    assert.deepEqual(parseAddressList(`"ceo@bank.example" <x@example.com>, ${"a".repeat(70)}@example.com`), [{ address: "x@example.com", name: null }]);
  });

  it("is bounded: a huge list is read only so far, in linear time", () => {
    const list = Array.from({ length: 50_000 }, (_, i) => `"N ${i}" <u${i}@example.com>`).join(", ");
    assert.equal(parseAddressList(list).length, MAX_CC * 4);
    assert.ok(parseAddressList(`"${"x".repeat(1_000_000)}`).length === 0);
  });
});

describe("replyRecipients", () => {
  const parent = { from: "dave@example.net", fromName: "Dave Moreau", to: '"Toto" <toto@jabber.example.org>, eve@example.net',
    cc: '"Frank Weber" <frank@example.de>, "Dave again" <Dave@Example.net>, TOTO@jabber.example.org, eve@example.net' };

  it("answers the correspondent by name and copies the others less the user's own addresses, each once", () => {
    assert.deepEqual(replyRecipients({ to: DAVE, parent, own: ["toto@jabber.example.org"] }), {
      to: { address: DAVE, name: "Dave Moreau" },
      cc: [{ address: "eve@example.net", name: null }, { address: "frank@example.de", name: "Frank Weber" }],
    });
  });

  it("copies the answered mail's sender when the user answers someone else of the thread", () => {
    const frank = "frank@example.de" as MailAddress;
    assert.deepEqual(replyRecipients({ to: frank, parent, own: ["toto@jabber.example.org"] }), {
      to: { address: frank, name: "Frank Weber" },
      cc: [{ address: DAVE, name: "Dave Moreau" }, { address: "eve@example.net", name: null }],
    });
  });

  it("a new mail, or a mail whose lists are unknown, goes to the correspondent alone", () => {
    assert.deepEqual(replyRecipients({ to: DAVE, parent: null, own: [] }), { to: { address: DAVE, name: null }, cc: [] });
    assert.deepEqual(replyRecipients({ to: DAVE, parent: { from: "dave@example.net", fromName: null, to: "", cc: "" }, own: [] }),
      { to: { address: DAVE, name: null }, cc: [] });
  });

  it("copies at most MAX_CC others", () => {
    const to = Array.from({ length: 100 }, (_, i) => `u${i}@example.com`).join(", ");
    assert.equal(replyRecipients({ to: DAVE, parent: { ...parent, to }, own: [] }).cc.length, MAX_CC);
  });
});
