// Migration 20261201000011 on a real PostgreSQL holding rows made before it: ids told to SMTP senders
// and bounce addresses made from Message-IDs stop naming anything (docs/design.md §Who speaks for a delivery).
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import knexFactory, { type Knex } from "knex";
import { migrationSource } from "../../src/store/migrations.ts";
import { createThreadStore } from "../../src/store/threads.ts";
import { createTestDatabase, type TestDatabase } from "../support/postgres.ts";

const MINE = "20261201000011_outcome_secrets.ts";
const before11: Knex.MigrationSource<string> = {
  ...migrationSource,
  getMigrations: async () => (await migrationSource.getMigrations([])).filter((name) => name < MINE),
};

describe("migration: outcome secrets", () => {
  let pgdb: TestDatabase;
  let knex: Knex;

  before(async () => {
    pgdb = await createTestDatabase();
    knex = knexFactory({ client: "pg", connection: pgdb.url, pool: { min: 0, max: 2 } });
    await knex.migrate.latest({ migrationSource: before11 });
  });
  after(async () => {
    await knex?.destroy();
    await pgdb?.drop();
  });

  it("gives waiting rows new stanza ids, keeps delivered ones, and names every outgoing mail by a fresh bounce secret", async () => {
    await knex("mailboxes").insert({ address: "toto@jabber.test", jid: "toto@localhost" });
    const [inbound] = await knex("messages").insert({ token: "aaaaaaaaaaaaaaaa", mail_from: "a@example.com", size: 1, raw: Buffer.from("x") }).returning("id");
    const old = (token: string, status: string) => ({ status, direction: "outbound", recipient: "alice@example.com", jid: "toto@localhost/r", stanza_id: `${token}.out` });
    const out = async (token: string, status: string) => {
      const [m] = await knex("messages").insert({ token, direction: "outbound", mail_from: `bounces+${token}@jabber.test`, from_address: "toto@jabber.test",
        message_id: `${token}@jabber.test`, size: 1, raw: Buffer.from("x") }).returning("id");
      await knex("deliveries").insert({ message_id: m.id, ...old(token, status) });
    };
    await knex("deliveries").insert(["pending", "sending", "delivered", "failed"].map((status, i) =>
      ({ message_id: inbound.id, recipient: "toto@jabber.test", jid: "toto@localhost", stanza_id: `aaaaaaaaaaaaaaaa.${i}`, status })));
    await out("bbbbbbbbbbbbbbbb", "pending");
    await out("cccccccccccccccc", "delivered");

    await knex.migrate.latest({ migrationSource });

    const rows = await knex("deliveries as d").join("messages as m", "m.id", "d.message_id").orderBy("d.id")
      .select("d.status", "d.direction", "d.stanza_id", "d.bounce_secret", "m.mail_from", "m.token");
    const inboundIds = rows.filter((r) => r.direction === "inbound").map((r) => r.stanza_id);
    assert.match(inboundIds[0], /^[0-9a-hjkmnp-tv-z]{26}$/, "pending: a new random id");
    assert.match(inboundIds[1], /^[0-9a-hjkmnp-tv-z]{26}$/, "sending: a new random id");
    assert.notEqual(inboundIds[0], inboundIds[1]);
    assert.deepEqual(inboundIds.slice(2), ["aaaaaaaaaaaaaaaa.2", "aaaaaaaaaaaaaaaa.3"], "delivered and failed keep theirs (replies thread)");
    assert.ok(rows.filter((r) => r.direction === "inbound").every((r) => r.bounce_secret === null));

    const outbound = rows.filter((r) => r.direction === "outbound");
    for (const r of outbound) {
      assert.match(r.bounce_secret, /^[0-9a-hjkmnp-tv-z]{26}$/);
      assert.equal(r.mail_from, `bounces+${r.bounce_secret}@jabber.test`, "the envelope names the new secret");
    }
    assert.match(outbound[0]!.stanza_id, /^[0-9a-hjkmnp-tv-z]{26}$/);
    const threads = createThreadStore(knex);
    for (const r of outbound) {
      assert.equal(await threads.bounceTarget(r.token), undefined, "the old token (the Message-ID) names nothing");
      assert.equal((await threads.bounceTarget(r.bounce_secret))?.target.correspondent, "alice@example.com");
    }
  });
});
