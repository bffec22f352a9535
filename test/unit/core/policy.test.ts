// Which address a self-service account may take (XEP-0077 registration policy).
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { mayRegister, selfServiceAddress } from "../../../src/core/policy.ts";

describe("selfServiceAddress", () => {
  it("lower-cases a plain name and puts it on the domain", () => {
    assert.deepEqual(selfServiceAddress("Toto", "jabber.example.org"), { ok: true, address: "toto@jabber.example.org" });
    assert.deepEqual(selfServiceAddress("jean-luc.picard_2", "x.org"), { ok: true, address: "jean-luc.picard_2@x.org" });
    assert.deepEqual(selfServiceAddress("élodie", "x.org"), { ok: true, address: "élodie@x.org" });
  });

  it("refuses role addresses (RFC 2142), the bounce prefix, and names people could not type back", () => {
    for (const name of ["postmaster", "ABUSE", "mailer-daemon", "bounces", "bounces+abc", "noreply"]) {
      assert.equal(selfServiceAddress(name, "x.org").ok, false, name);
    }
    for (const name of ["", ".toto", "toto.", "to..to", "to to", "a,b", "a@b", "x".repeat(65), "tot\u202Eo", "\"q\""]) {
      assert.equal(selfServiceAddress(name, "x.org").ok, false, JSON.stringify(name));
    }
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
