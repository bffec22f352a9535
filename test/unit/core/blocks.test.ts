// Blocked senders after DATA (src/core/blocks.ts): the From address against each recipient's list.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { splitBlocked } from "../../../src/core/blocks.ts";
import { senderHash } from "../../../src/core/sender-hash.ts";
import type { Recipient } from "../../../src/core/types.ts";

const recipient = (address: string, blocked: string[] = [], more: Partial<Recipient> = {}) =>
  ({ address, jid: `${address.split("@")[0]}@localhost`, enabled: true, blocked: Float64Array.from(blocked.map(senderHash)), ...more }) as Recipient;

describe("blocked From addresses", () => {
  it("drops the recipients whose user blocked the From address, whatever its case, and keeps the others", () => {
    const toto = recipient("toto@jabber.test", ["news@example.com"]);
    const titi = recipient("titi@jabber.test", ["other@example.com"]);
    const { kept, blocked } = splitBlocked([toto, titi], "News@Example.com");
    assert.deepEqual(kept, [titi]);
    assert.deepEqual(blocked, [toto]);
  });

  it("keeps everyone for a mail without a From address or recipients without lists", () => {
    const toto = recipient("toto@jabber.test", ["news@example.com"]);
    assert.deepEqual(splitBlocked([toto], null), { kept: [toto], blocked: [] });
    const plain = recipient("titi@jabber.test");
    assert.deepEqual(splitBlocked([plain], "news@example.com"), { kept: [plain], blocked: [] });
  });

  it("never drops a bounce address: a report speaks about mail the user sent", () => {
    const bounce = recipient("toto@jabber.test", ["mailer-daemon@example.com"],
      { bounceOf: { deliveryId: 1, correspondent: "x@example.com", userJid: "toto@localhost/r", originStanzaId: null } });
    assert.deepEqual(splitBlocked([bounce], "MAILER-DAEMON@example.com").kept, [bounce]);
  });
});
