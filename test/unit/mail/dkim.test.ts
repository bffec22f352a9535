// DKIM signing (RFC 6376) checked by an independent verifier: mailauth against a static zone.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { dkimVerify } from "mailauth";
import { createSigner, dkimRecord } from "../../../src/mail/dkim.ts";
import { composeMail } from "../../../src/mail/compose.ts";
import { generateDkimKey, staticResolver } from "../../support/dns.ts";

const mail = () => composeMail({
  from: { address: "toto@jabber.example.org", name: "Toto" }, to: "alice@example.com", subject: "Re: hello",
  text: "Bonjour Alice,\n\nmerci — à bientôt.\n", messageId: "abc@jabber.example.org", inReplyTo: "orig@example.com",
  references: ["orig@example.com"], jabberId: "toto@jabber.example.org", date: new Date("2026-11-25T10:00:00Z"),
});

describe("createSigner", () => {
  const key = generateDkimKey();
  const resolver = staticResolver({ "sel1._domainkey.jabber.example.org": [key.txt] });

  it("signs with d= the mailbox's domain and s= the selector; the signature verifies", async () => {
    const signed = await createSigner({ selector: "sel1", privateKey: key.privateKey })(await mail(), "jabber.example.org");
    assert.match(signed.toString(), /^DKIM-Signature: /);
    const result = await dkimVerify(signed, { resolver });
    assert.equal(result.results.length, 1);
    const [r] = result.results;
    assert.equal(r!.status.result, "pass", JSON.stringify(r!.status));
    assert.equal(r!.signingDomain, "jabber.example.org");
    assert.equal(r!.selector, "sel1");
  });

  it("a changed body no longer verifies (the signature covers it)", async () => {
    const signed = (await createSigner({ selector: "sel1", privateKey: key.privateKey })(await mail(), "jabber.example.org")).toString();
    const result = await dkimVerify(Buffer.from(signed.replace("Alice", "Alicia")), { resolver });
    // mailauth reports a body hash mismatch as "neutral" with a comment (RFC 6376 §6.1.3): never "pass".
    const status = result.results[0]!.status;
    assert.notEqual(status.result, "pass");
    assert.match(String(status.comment), /body hash/i);
  });

  it("derives the TXT record to publish from the private key", () => {
    assert.equal(dkimRecord(key.privateKey), key.txt);
  });

  it("signs nothing without a configuration", async () => {
    const raw = await mail();
    assert.equal(await createSigner(null)(raw, "jabber.example.org"), raw);
  });
});
