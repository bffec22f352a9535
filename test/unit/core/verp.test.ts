// VERP bounce addresses: one per outgoing mail, on the sending mailbox's domain.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { bounceAddress, readBounceAddress } from "../../../src/core/verp.ts";
import { newToken } from "../../../src/store/messages.ts";
import type { MailAddress } from "../../../src/core/types.ts";

const a = (s: string) => s as MailAddress;

describe("bounceAddress / readBounceAddress", () => {
  it("round-trips every token newToken() makes, on the mailbox's domain in lower case", () => {
    for (let i = 0; i < 200; i++) {
      const token = newToken();
      const address = bounceAddress(token, a("Toto@Jabber.Example.ORG"));
      assert.equal(address, `bounces+${token}@jabber.example.org`);
      assert.equal(readBounceAddress(address), token);
    }
  });

  it("reads the token case-insensitively (some MTAs fold the local part)", () => {
    assert.equal(readBounceAddress(a("BOUNCES+0123456789ABCDEF@x.org")), "0123456789abcdef");
  });

  it("is null for anything that is not exactly a bounce address", () => {
    for (const s of ["bounces@x.org", "bounces+@x.org", "bounces+0123456789abcde@x.org", "bounces+0123456789abcdef0@x.org",
      "xbounces+0123456789abcdef@x.org", "bounces+0123456789abcdei@x.org", "bounces+0123456789abcdef+x@x.org", "toto@x.org"]) {
      assert.equal(readBounceAddress(a(s)), null, s);
    }
  });
});
