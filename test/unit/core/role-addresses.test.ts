// postmaster@ and abuse@ of every mail domain (RFC 5321 §4.5.1, RFC 2142 §2): src/core/role-addresses.ts.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { roleOf, roleRecipient, withPostmasterDomain } from "../../../src/core/role-addresses.ts";
import type { MailAddress } from "../../../src/core/types.ts";

const domains = ["jabber.example.org", "mail.example.net"];

describe("role addresses", () => {
  it("knows postmaster and abuse of our domains, in any case, and nothing else", () => {
    assert.equal(roleOf("postmaster@jabber.example.org", domains), "postmaster");
    assert.equal(roleOf("PostMaster@MAIL.example.NET", domains), "postmaster");
    assert.equal(roleOf("Abuse@jabber.example.org", domains), "abuse");
    assert.equal(roleOf("postmaster@elsewhere.example", domains), null);
    assert.equal(roleOf("webmaster@jabber.example.org", domains), null);
    assert.equal(roleOf("postmaster", domains), null);
    assert.equal(roleOf("@jabber.example.org", domains), null);
  });

  it("reads a bare Postmaster as the first domain's (RFC 5321 §4.1.1.3)", () => {
    assert.equal(withPostmasterDomain("Postmaster", "jabber.example.org"), "Postmaster@jabber.example.org");
    assert.equal(withPostmasterDomain("POSTMASTER", "jabber.example.org"), "POSTMASTER@jabber.example.org");
    assert.equal(withPostmasterDomain("abuse", "jabber.example.org"), "abuse");
    assert.equal(withPostmasterDomain("toto@x.example", "jabber.example.org"), "toto@x.example");
  });

  it("stands for every administrator, once each, keeping the address as written", () => {
    const r = roleRecipient("PostMaster@jabber.example.org" as MailAddress,
      { mailDomains: domains, adminJids: ["Admin@jabber.example.org", "ops@jabber.example.org", "admin@jabber.example.org"] });
    assert.deepEqual(r, { address: "PostMaster@jabber.example.org", jid: "admin@jabber.example.org", enabled: true,
      admins: ["admin@jabber.example.org", "ops@jabber.example.org"] });
    assert.equal(roleRecipient("toto@jabber.example.org" as MailAddress, { mailDomains: domains, adminJids: ["a@b"] }), undefined);
  });

  it("without administrators: postmaster is still accepted (for keeping), abuse is refused", () => {
    const none = { mailDomains: domains, adminJids: [] };
    assert.deepEqual(roleRecipient("postmaster@jabber.example.org" as MailAddress, none)?.admins, []);
    assert.equal(roleRecipient("abuse@jabber.example.org" as MailAddress, none), undefined);
  });
});
