// VERP bounce addresses: one per outgoing mail, on the sending mailbox's domain, named by a secret.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { bounceAddress, readBounceAddress } from "../../../src/core/verp.ts";
import { newSecret, newToken } from "../../../src/store/messages.ts";
import type { MailAddress } from "../../../src/core/types.ts";

const a = (s: string) => s as MailAddress;
const SECRET = "0123456789abcdefghjkmnpqrs";

describe("bounceAddress / readBounceAddress", () => {
  it("round-trips every secret newSecret() makes, on the mailbox's domain in lower case", () => {
    for (let i = 0; i < 200; i++) {
      const secret = newSecret();
      const address = bounceAddress(secret, a("Toto@Jabber.Example.ORG"));
      assert.equal(address, `bounces+${secret}@jabber.example.org`);
      assert.equal(readBounceAddress(address), secret);
    }
  });

  it("reads the secret case-insensitively (some MTAs fold the local part)", () => {
    assert.equal(readBounceAddress(a(`BOUNCES+${SECRET.toUpperCase()}@x.org`)), SECRET);
  });

  it("accepts only the secret's form: a message token (the Message-ID's local part) names nothing", () => {
    for (let i = 0; i < 50; i++) assert.equal(readBounceAddress(a(`bounces+${newToken()}@x.org`)), null);
    for (const s of ["bounces@x.org", "bounces+@x.org", `bounces+${SECRET.slice(1)}@x.org`, `bounces+${SECRET}0@x.org`,
      `xbounces+${SECRET}@x.org`, `bounces+${SECRET.slice(1)}i@x.org`, `bounces+${SECRET}+x@x.org`, "toto@x.org",
      "bounces+0123456789abcdef@x.org"]) {
      assert.equal(readBounceAddress(a(s)), null, s);
    }
  });
});

describe("newSecret", () => {
  it("is 26 characters of the base32 alphabet (130 bits), never the same twice", () => {
    const seen = new Set<string>();
    const counts = new Map<string, number>();
    for (let i = 0; i < 2000; i++) {
      const s = newSecret();
      assert.match(s, /^[0-9a-hjkmnp-tv-z]{26}$/);
      seen.add(s);
      for (const ch of s) counts.set(ch, (counts.get(ch) ?? 0) + 1);
    }
    assert.equal(seen.size, 2000);
    // Every one of the 32 symbols is used, about equally (52,000 draws: ~1,625 each).
    assert.equal(counts.size, 32);
    for (const [ch, n] of counts) assert.ok(n > 1300 && n < 1950, `${ch}: ${n}`);
  });
});
