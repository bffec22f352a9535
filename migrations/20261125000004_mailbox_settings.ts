// Per-mailbox settings, and what the parser found about list and automatic mail (issue #4, Text).
// Landed migrations are never edited: add a new file instead.
import type { Knex } from "knex";

const statements = [
  // Quoted history collapsed to one line in chat; an admin turns it off per mailbox with SQL, read at
  // every delivery (no restart).
  `ALTER TABLE mailboxes ADD COLUMN collapse_quotes boolean NOT NULL DEFAULT true`,
  // RFC 3834: automatic mail (and list mail, RFC 2919 List-Id) must never be answered automatically.
  `ALTER TABLE messages ADD COLUMN automatic boolean NOT NULL DEFAULT false`,
  `ALTER TABLE messages ADD COLUMN list_id text`,
];

export async function up(knex: Knex): Promise<void> {
  for (const sql of statements) await knex.raw(sql);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw("ALTER TABLE messages DROP COLUMN list_id, DROP COLUMN automatic");
  await knex.raw("ALTER TABLE mailboxes DROP COLUMN collapse_quotes");
}
