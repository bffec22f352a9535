// Which mailbox an RCPT reaches: exact, subaddress (Postfix recipient_delimiter), role address, catch-all.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { addressTag, catchAllOf, isCatchAll, recipientCandidates, resolveRecipient, splitSubaddress } from "../../../src/core/recipients.ts";
import { readBounceAddress } from "../../../src/core/verp.ts";
import type { BareJid, MailAddress, Mailbox } from "../../../src/core/types.ts";

const D = "jabber.example.org";
const a = (s: string) => s as MailAddress;
const row = (address: string, jid: string, enabled = true): Mailbox => ({ address: a(address), jid: jid as BareJid, enabled });
const rules = { delimiters: "+", mailDomains: [D, "other.example"], adminJids: ["boss@jabber.example.org"] };
const resolve = (address: string, rows: Mailbox[], over: Partial<typeof rules> = {}) => resolveRecipient(a(address), rows, { ...rules, ...over });
const SECRET = "0123456789abcdefghjkmnpqrs";

describe("splitSubaddress", () => {
  it("splits at the first delimiter of the local part, keeping the case and the domain", () => {
    assert.deepEqual(splitSubaddress(`toto+news@${D}`, "+"), { base: `toto@${D}`, tag: "news" });
    assert.deepEqual(splitSubaddress(`Toto+News+Daily@Jabber.Example.org`, "+"), { base: "Toto@Jabber.Example.org", tag: "News+Daily" });
    assert.deepEqual(splitSubaddress(`toto+@${D}`, "+"), { base: `toto@${D}`, tag: "" });
  });

  it("several delimiter characters: the first of any of them (Postfix 2.11)", () => {
    assert.deepEqual(splitSubaddress(`toto-news+x@${D}`, "+-"), { base: `toto@${D}`, tag: "news+x" });
    assert.deepEqual(splitSubaddress(`toto+news-x@${D}`, "+-"), { base: `toto@${D}`, tag: "news-x" });
    assert.equal(splitSubaddress(`toto-news@${D}`, "+"), null, "only the configured characters");
  });

  it("does not split: delimiter off, no delimiter, a leading one, quoted local parts, reserved names, bounces", () => {
    assert.equal(splitSubaddress(`toto+news@${D}`, ""), null, "RECIPIENT_DELIMITER empty: off");
    assert.equal(splitSubaddress(`toto@${D}`, "+"), null);
    assert.equal(splitSubaddress(`+news@${D}`, "+"), null);
    assert.equal(splitSubaddress(`"toto+news"@${D}`, "+"), null, "a quoted local part is a name as it is");
    assert.equal(splitSubaddress(`mailer-daemon@${D}`, "-"), null);
    assert.equal(splitSubaddress(`owner-list@${D}`, "-"), null);
    assert.equal(splitSubaddress(`list-request@${D}`, "-"), null);
    assert.equal(splitSubaddress(`bounces+${SECRET}@${D}`, "+"), null, "our VERP form");
    assert.equal(splitSubaddress(`BOUNCES+whatever@${D}`, "+"), null);
  });
});

describe("recipientCandidates", () => {
  it("exact, base, catch-all, lower case, without repeats", () => {
    assert.deepEqual(recipientCandidates(`Toto+News@${D}`, "+"), [`toto+news@${D}`, `toto@${D}`, `*@${D}`]);
    assert.deepEqual(recipientCandidates(`toto@${D}`, "+"), [`toto@${D}`, `*@${D}`]);
    assert.deepEqual(recipientCandidates(`*@${D}`, "+"), [`*@${D}`]);
    assert.deepEqual(recipientCandidates(`bounces+x@${D}`, "+"), [`bounces+x@${D}`], "no catch-all for the bounce form");
  });

  it("catchAllOf / isCatchAll", () => {
    assert.equal(catchAllOf("x@Jabber.Example.ORG"), "*@jabber.example.org");
    assert.equal(isCatchAll(`*@${D}`), true);
    assert.equal(isCatchAll(`toto@${D}`), false);
    assert.equal(isCatchAll(`"*"@${D}`), false);
  });
});

describe("resolveRecipient", () => {
  const toto = row(`toto@${D}`, "toto@localhost");

  it("the exact mailbox, compared case-insensitively, carries no other address", () => {
    assert.deepEqual(resolve(`TOTO@${D.toUpperCase()}`, [toto]), toto);
  });

  it("a subaddress reaches the base mailbox and remembers the address used", () => {
    assert.deepEqual(resolve(`Toto+News@${D}`, [toto]), { ...toto, addressedTo: `Toto+News@${D}` });
    assert.deepEqual(resolve(`toto+@${D}`, [toto]), toto, "an empty tag is the mailbox itself");
    assert.equal(resolve(`toto+news@${D}`, [toto], { delimiters: "" }), undefined, "off: refused");
  });

  it("an exact row for the subaddress wins, and a disabled one refuses (the base does not take it)", () => {
    const news = row(`toto+news@${D}`, "news@localhost");
    assert.deepEqual(resolve(`toto+news@${D}`, [toto, news]), news);
    const off = row(`toto+news@${D}`, "toto@localhost", false);
    assert.deepEqual(resolve(`toto+news@${D}`, [toto, off]), off);
    assert.equal(resolve(`toto+news@${D}`, [toto, off])?.enabled, false);
  });

  it("a disabled base mailbox refuses its subaddresses", () => {
    const off = row(`toto@${D}`, "toto@localhost", false);
    assert.equal(resolve(`toto+news@${D}`, [off])?.enabled, false);
  });

  it("unknown x+y@ without a mailbox x: unknown", () => {
    assert.equal(resolve(`x+y@${D}`, [toto]), undefined);
  });

  it("a catch-all takes any address of its domain without a row; exact and subaddress win; disabled refuses", () => {
    const all = row(`*@${D}`, "desk@localhost");
    assert.deepEqual(resolve(`Sales@${D}`, [toto, all]), { ...all, addressedTo: `Sales@${D}` });
    assert.deepEqual(resolve(`x+y@${D}`, [toto, all]), { ...all, addressedTo: `x+y@${D}` });
    assert.deepEqual(resolve(`toto@${D}`, [toto, all]), toto);
    assert.deepEqual(resolve(`toto+news@${D}`, [toto, all]), { ...toto, addressedTo: `toto+news@${D}` });
    const off = row(`*@${D}`, "desk@localhost", false);
    assert.equal(resolve(`sales@${D}`, [off])?.enabled, false);
    const disabledExact = row(`sales@${D}`, "s@localhost", false);
    assert.equal(resolve(`sales@${D}`, [disabledExact, all])?.enabled, false, "a disabled exact row is not overridden by the catch-all");
  });

  it("another domain's catch-all does not count", () => {
    assert.equal(resolve(`sales@other.example`, [row(`*@${D}`, "desk@localhost")]), undefined);
  });

  it("role addresses: their own mailbox first, else the administrators, before the catch-all; subaddresses too", () => {
    const all = row(`*@${D}`, "desk@localhost");
    const pm = resolve(`postmaster@${D}`, [all]);
    assert.deepEqual(pm?.admins, ["boss@jabber.example.org"]);
    assert.equal(pm?.addressedTo, undefined);
    const abuse = resolve(`abuse+spam@${D}`, [all]);
    assert.deepEqual(abuse?.admins, ["boss@jabber.example.org"]);
    assert.equal(abuse?.address, `abuse@${D}`);
    assert.equal(abuse?.addressedTo, `abuse+spam@${D}`);
    const own = row(`abuse@${D}`, "abuse-desk@localhost");
    assert.deepEqual(resolve(`abuse@${D}`, [own, all]), own);
    assert.deepEqual(resolve(`abuse+spam@${D}`, [own]), { ...own, addressedTo: `abuse+spam@${D}` });
    assert.deepEqual(resolve(`postmaster@${D}`, [row(`postmaster@${D}`, "p@localhost", false)])?.admins, ["boss@jabber.example.org"],
      "a disabled role mailbox: the administrators");
  });

  it("the bounce form is never a subaddress nor a catch-all's: the VERP lookup alone answers for it", () => {
    const all = row(`*@${D}`, "desk@localhost");
    const bounces = row(`bounces@${D}`, "someone@localhost");
    const address = `bounces+${SECRET}@${D}`;
    assert.equal(readBounceAddress(a(address)), SECRET, "the form the listener checks first");
    assert.equal(resolve(address, [all, bounces]), undefined);
    assert.equal(resolve(`bounces+stale@${D}`, [all, bounces]), undefined);
  });
});

describe("addressTag", () => {
  it("the tag of a subaddress, the whole address for a catch-all, nothing for the mailbox's own", () => {
    assert.equal(addressTag(`toto+news@${D}`, `toto@${D}`), "news");
    assert.equal(addressTag(`Toto+News+x@${D}`, `toto@${D}`), "News+x");
    assert.equal(addressTag(`sales@${D}`, `*@${D}`), `sales@${D}`);
    assert.equal(addressTag(null, `toto@${D}`), null);
    assert.equal(addressTag(`TOTO@${D}`, `toto@${D}`), null);
    assert.equal(addressTag(`abuse+spam@${D}`, `abuse@${D}`), "spam");
  });
});
