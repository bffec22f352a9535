// The spam chat words (services/spam-chat.ts) over the real stores on a real PostgreSQL: each user acts
// for the mailboxes they own only; blocks reach the RCPT lookup; held mail is listed and released by
// its own user; a claim never takes held mail.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { senderHash } from "../../src/core/sender-hash.ts";
import type { BareJid, MailAddress } from "../../src/core/types.ts";
import { createSpamChatCommands } from "../../src/services/spam-chat.ts";
import { createSpamServices } from "../../src/services/spam.ts";
import { createMailboxStore } from "../../src/store/mailboxes.ts";
import { createMessageStore } from "../../src/store/messages.ts";
import { createSpamStore } from "../../src/store/spam.ts";
import { parsed, useQueueDatabase } from "../support/queue-db.ts";

const TOTO = "toto@localhost" as BareJid;
const TITI = "titi@localhost" as BareJid;
const NOBODY = "nobody@localhost" as BareJid;

describe("spam chat commands on the real stores", () => {
  const q = useQueueDatabase();
  const setup = async () => {
    const mailboxes = createMailboxStore(q.db.knex);
    await mailboxes.upsert("toto@jabber.test" as MailAddress, TOTO);
    await mailboxes.upsert("titi@jabber.test" as MailAddress, TITI);
    const learned: Buffer[] = [];
    const spam = createSpamServices({ mailboxes, spam: createSpamStore(q.db.knex),
      learnSpam: async (raw) => { learned.push(raw); return "learned"; } });
    const words = new Map(createSpamChatCommands({ spam }).map((c) => [c.word, c]));
    const say = (user: BareJid, line: string) => {
      const [word, ...rest] = line.split(" ");
      return words.get(word!)!.run(user, rest.join(" "));
    };
    return { mailboxes, say, learned };
  };

  it("offers the five words, with usage", async () => {
    const { say } = await setup();
    assert.deepEqual([...createSpamChatCommands({ spam: {} as never }).map((c) => c.usage)],
      ["spam ADDRESS", "block ADDRESS", "unblock ADDRESS", "held", "release ID"]);
    assert.equal(await say(TOTO, "block "), "Usage: block ADDRESS");
    assert.match(await say(TOTO, "block not-an-address"), /is not an e-mail address/);
    assert.equal(await say(NOBODY, "block x@example.com"), "You have no mailbox on this gateway.");
  });

  it("block and unblock act for the user's own mailbox; the RCPT lookup carries the list", async () => {
    const { mailboxes, say } = await setup();
    // The envelope sender of the latest mail from that address is blocked with it.
    await createMessageStore(q.db.knex).accept({ mailFrom: "bounce-77@lists.example.com", remoteAddress: null, helo: null,
      raw: Buffer.from("Subject: s\r\n\r\nt\r\n"), parsed: { ...parsed, fromAddress: "News@Example.com" },
      deliveries: [{ kind: "mail", recipient: "toto@jabber.test", jid: TOTO, originStanzaId: null }] });
    assert.match(await say(TOTO, "block news@example.com"), /^Blocked: mail from news@example\.com \(and its envelope sender bounce-77@lists\.example\.com\) to toto@jabber\.test/);
    const blocked = async (address: string) => [...(await mailboxes.find(address))?.blocked ?? []].sort();
    assert.deepEqual(await blocked("TOTO@jabber.test"), [senderHash("Bounce-77@lists.example.com"), senderHash("news@example.com")].sort());
    assert.deepEqual(await blocked("titi@jabber.test"), []);
    assert.equal(await say(TITI, "unblock news@example.com"), "news@example.com was not blocked.");
    assert.equal((await mailboxes.find("toto@jabber.test"))?.blocked?.length, 2);
    assert.match(await say(TOTO, "unblock <NEWS@example.com>"), /^Unblocked/);
    assert.deepEqual(await blocked("toto@jabber.test"), []);
  });

  it("spam blocks and learns the latest mail from that sender to the user's mailbox", async () => {
    const { say, learned } = await setup();
    await createMessageStore(q.db.knex).accept({ mailFrom: "eve@example.com", remoteAddress: null, helo: null,
      raw: Buffer.from("Subject: buy\r\n\r\nnow\r\n"), parsed: { ...parsed, fromAddress: "eve@example.com" },
      deliveries: [{ kind: "mail", recipient: "titi@jabber.test", jid: TITI, originStanzaId: null }] });
    // Toto never got mail from eve: nothing of titi's is read for toto.
    assert.match(await say(TOTO, "spam eve@example.com"), /No mail from eve@example\.com to learn from\.$/);
    assert.equal(learned.length, 0);
    assert.match(await say(TITI, "spam eve@example.com"), /Its latest mail was learned as spam\.$/);
    assert.equal(learned[0]?.toString(), "Subject: buy\r\n\r\nnow\r\n");
  });

  it("held mail is listed and released by its own user only; no claim takes it", async () => {
    const { say } = await setup();
    await createMessageStore(q.db.knex).accept({ mailFrom: "promo@example.com", remoteAddress: null, helo: null,
      raw: Buffer.from("Subject: promo\r\n\r\nt\r\n"), parsed: { ...parsed, subject: "promo", fromAddress: "promo@example.com",
        spam: { action: "add header", score: 6, required: 15, symbols: ["GTUBE"] } },
      deliveries: [{ kind: "mail", recipient: "toto@jabber.test", jid: TOTO, originStanzaId: null, held: true }] });
    const status = async () => ((await q.db.knex("deliveries as d").join("messages as m", "m.id", "d.message_id")
      .where("m.subject", "promo").select("d.status")) as { status: string }[]).map((r) => r.status);
    await q.deliveries.claim("w", 100, 30);
    assert.deepEqual(await status(), ["held"]);
    const list = await say(TOTO, "held");
    const id = /^(\d+): .* from promo@example\.com: promo \[add header, score 6 \/ 15: GTUBE\]$/m.exec(list)?.[1];
    assert.ok(id, list);
    assert.equal(await say(TITI, "held"), "No mail is held as spam.");
    assert.equal(await say(TITI, `release ${id}`), `No held mail ${id} of yours.`);
    assert.match(await say(TOTO, "release x"), /^Say which/);
    assert.equal(await say(TOTO, `release ${id}`), "Released: it follows as a chat message.");
    assert.deepEqual(await status(), ["pending"]);
  });
});
