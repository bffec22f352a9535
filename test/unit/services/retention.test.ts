// The chat command `forget` (services/retention.ts): nothing happens without the confirmation word;
// with it, every mailbox the user owns is purged for that user's JID only, waiting mail kept.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { BareJid } from "../../../src/core/types.ts";
import { createRetentionChatCommands, FORGET_CONFIRMATION } from "../../../src/services/retention.ts";

describe("the forget chat command", () => {
  const calls: unknown[] = [];
  const [forget] = createRetentionChatCommands({ retentionDays: 30, batch: 100 }, {
    addressesOf: async (jid) => (jid === "toto@example.org" ? ["toto@mail.example", "t@mail.example"] : []),
    purge: async (address, options) => {
      calls.push([address, options]);
      return { mails: 1, deliveries: 2, waiting: address.startsWith("t@") ? 1 : 0 };
    },
  });
  const toto = "toto@example.org" as BareJid;

  it("has the dispatcher's shape and asks for the confirmation word first", async () => {
    assert.equal(forget!.word, "forget");
    assert.equal(forget!.usage, `forget ${FORGET_CONFIRMATION}`);
    assert.equal(forget!.admin, undefined);
    for (const args of ["", "yes", "everything else"]) {
      assert.match(await forget!.run(toto, args), /To do it, send: forget everything/);
    }
    assert.deepEqual(calls, []);
  });

  it("deletes the user's own copies in every mailbox they own, and says what was kept", async () => {
    const answer = await forget!.run(toto, " Everything ");
    assert.deepEqual(calls, [["toto@mail.example", { jid: toto, waiting: false, batch: 100 }], ["t@mail.example", { jid: toto, waiting: false, batch: 100 }]]);
    assert.match(answer, /^Deleted the stored mail of toto@mail\.example, t@mail\.example: 4 copies removed \(2 mails gone/);
    assert.match(answer, /1 mail still waiting for delivery was kept/);
    assert.equal(await forget!.run("nobody@example.org" as BareJid, "everything"), "You have no mailbox on this gateway.");
  });
});
