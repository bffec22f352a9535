// Which address a self-service account may take (XEP-0077 registration policy).
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { chooseName, mailboxDomain, mayRegister, RESERVED_NAMES, selfServiceAddress } from "../../../src/core/policy.ts";

const why = (v: { ok: boolean; why?: string }) => (v.ok ? "" : v.why ?? "");

describe("selfServiceAddress", () => {
  it("normalises a plain name and puts it on the domain", () => {
    assert.deepEqual(selfServiceAddress("Toto", "jabber.example.org"), { ok: true, address: "toto@jabber.example.org", local: "toto" });
    assert.deepEqual(selfServiceAddress("ｊｅａｎ-luc.picard_2", "x.org"), { ok: true, address: "jean-luc.picard_2@x.org", local: "jean-luc.picard_2" });
    assert.equal(selfServiceAddress("élodie", "x.org").ok, false, "ASCII by default");
    assert.deepEqual(selfServiceAddress("Élodie", "x.org", "unicode"), { ok: true, address: "élodie@x.org", local: "élodie" });
  });

  it("reserves every RFC 2142 §3–5 mailbox, the server's own senders, and their look-alikes", () => {
    for (const name of ["info", "marketing", "sales", "support", "abuse", "noc", "security", "postmaster", "hostmaster",
      "usenet", "news", "webmaster", "www", "uucp", "ftp", "bounces", "mailer-daemon", "noreply", "no-reply", "root", "admin"]) {
      assert.ok((RESERVED_NAMES as readonly string[]).includes(name), name);
      assert.match(why(selfServiceAddress(name.toUpperCase(), "x.org")), /reserved/, name);
    }
    assert.equal(selfServiceAddress("bounces+abc", "x.org").ok, false);
    for (const name of ["bounces-abc", "p0stmaster", "ＳＡＬＥＳ", "ro0t"]) assert.match(why(selfServiceAddress(name, "x.org")), /reserved/, name);
    assert.match(why(selfServiceAddress("\u0455\u0430\u04cf\u0435\u0455", "x.org", "unicode")), /reserved/, "sales in Cyrillic letters");
    assert.equal(selfServiceAddress("salesman", "x.org").ok, true);
  });
});

describe("self-service names and addresses people expect", () => {
  it("never a catch-all nor a name holding a RECIPIENT_DELIMITER character", () => {
    for (const name of ["*", "to*to", "toto+news", "+toto"]) assert.equal(selfServiceAddress(name, "x.org", "ascii", "+").ok, false, name);
    assert.match(why(selfServiceAddress("*", "x.org", "unicode", "+")), /cannot hold “\*”|Use ASCII|cannot be part/);
    assert.match(why(selfServiceAddress("jean-luc", "x.org", "ascii", "+-")), /cannot hold “-”: here it starts a subaddress/);
    assert.match(why(selfServiceAddress("jean_luc", "x.org", "unicode", "_")), /cannot hold “_”/);
    assert.equal(selfServiceAddress("jean-luc", "x.org", "ascii", "+").ok, true, "- is a delimiter only when configured");
  });

  it("an account whose own name holds a delimiter gets no mailbox of that name; a free name neither", () => {
    const policy = { repertoire: "ascii" as const, freeNameDomains: ["lists.example"], delimiters: "+-" };
    assert.match(why(chooseName("jean-luc@jabber.example", null, "jabber.example", policy)), /Your account's name cannot be a mailbox here: A name cannot hold “-”/);
    assert.equal(chooseName("jean-luc@jabber.example", "team-news@lists.example", "jabber.example", policy).ok, false);
    assert.equal(chooseName("jean@jabber.example", "team@lists.example", "jabber.example", policy).ok, true);
  });
});

describe("chooseName", () => {
  const strict = { repertoire: "ascii" as const, freeNameDomains: [] };
  const free = { repertoire: "ascii" as const, freeNameDomains: ["lists.example"] };

  it("by default gives an account its own name and nothing else", () => {
    assert.deepEqual(chooseName("bob@jabber.example", null, "jabber.example", strict), { ok: true, address: "bob@jabber.example", local: "bob" });
    assert.equal(chooseName("bob@jabber.example", "BOB", "jabber.example", strict).ok, true);
    assert.match(why(chooseName("mallet@jabber.example", "bob", "jabber.example", strict)), /own name: yours is mallet@jabber\.example/);
    assert.match(why(chooseName("sales@jabber.example", null, "jabber.example", strict)), /Your account's name cannot be a mailbox here: sales is reserved/);
    assert.match(why(chooseName("t\u043eto@jabber.example", null, "jabber.example", strict)), /ASCII letters/);
  });

  it("on a free-name domain any acceptable name may be chosen", () => {
    assert.deepEqual(chooseName("mallet@jabber.example", "Bob", "lists.example", free), { ok: true, address: "bob@lists.example", local: "bob" });
    assert.equal(chooseName("mallet@jabber.example", null, "lists.example", free).ok, true);
    assert.match(why(chooseName("mallet@jabber.example", "sales", "lists.example", free)), /reserved/);
    assert.match(why(chooseName("mallet@jabber.example", "bob", "jabber.example", free)), /own name/, "other domains stay strict");
  });
});

describe("mailboxDomain", () => {
  it("is the account's own domain when it is a mail domain, else the first mail domain", () => {
    assert.equal(mailboxDomain("bob@Jabber.Example", ["other.example", "jabber.example"]), "jabber.example");
    assert.equal(mailboxDomain("bob@localhost", ["jabber.test"]), "jabber.test");
  });
});

describe("mayRegister", () => {
  it("accepts accounts of the listed XMPP domains only", () => {
    assert.equal(mayRegister("toto@jabber.example.org", ["jabber.example.org"]), true);
    assert.equal(mayRegister("toto@JABBER.example.org", ["jabber.example.org"]), true);
    assert.equal(mayRegister("toto@evil.example", ["jabber.example.org"]), false);
    assert.equal(mayRegister("jabber.example.org", ["jabber.example.org"]), false, "a server JID is not an account");
    assert.equal(mayRegister("toto@jabber.example.org", []), false);
  });
});
