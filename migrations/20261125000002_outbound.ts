// Outgoing mail (chat → e-mail) shares the message and delivery tables with inbound mail.
import type { Knex } from "knex";

const statements = [
  `ALTER TABLE messages ADD COLUMN direction text NOT NULL DEFAULT 'inbound' CHECK (direction IN ('inbound', 'outbound'))`,
  // RFC 5322 §3.6.4: a reply's References are the parent's References plus the parent's Message-ID.
  `ALTER TABLE messages ADD COLUMN "references" text[] NOT NULL DEFAULT '{}'`,
  // The id of the user's chat message an outgoing delivery came from: errors and receipts refer to it.
  `ALTER TABLE deliveries ADD COLUMN origin_stanza_id text`,
  // The user has been told once that this mail is delayed (issue #3: told once, not at every retry).
  `ALTER TABLE deliveries ADD COLUMN delay_notified boolean NOT NULL DEFAULT false`,
  // "The latest mail from that correspondent to that mailbox", for threading replies.
  `CREATE INDEX messages_from_lower ON messages (lower(from_address), id DESC) WHERE direction = 'inbound'`,
];

export async function up(knex: Knex): Promise<void> {
  for (const sql of statements) await knex.raw(sql);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw("DROP INDEX messages_from_lower");
  await knex.raw("ALTER TABLE deliveries DROP COLUMN delay_notified, DROP COLUMN origin_stanza_id");
  await knex.raw(`ALTER TABLE messages DROP COLUMN direction, DROP COLUMN "references"`);
}
