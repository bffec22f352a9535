// Outgoing mail, second part: display names, XEP-0184 receipts, delivery reports (VERP), rate limits.
import type { Knex } from "knex";

const statements = [
  // The name shown in From: when the user's message carries no XEP-0172 <nick>.
  `ALTER TABLE mailboxes ADD COLUMN display_name text`,
  // The user asked for a XEP-0184 receipt: sent when the relay accepts the mail.
  `ALTER TABLE deliveries ADD COLUMN receipt_requested boolean NOT NULL DEFAULT false`,
  // What an inbound delivery carries to the user: the mail itself, or (for a delivery status notification
  // sent to a VERP bounce address, RFC 3464) an error on the chat message the failed mail came from.
  `ALTER TABLE deliveries ADD COLUMN kind text NOT NULL DEFAULT 'mail' CHECK (kind IN ('mail', 'report'))`,
  // RFC 3464 fields read from a delivery status notification: {action, status, diagnostic, recipient, mta}.
  `ALTER TABLE messages ADD COLUMN report jsonb`,
  // Rate limits count a mailbox's outgoing mail over the last day.
  `CREATE INDEX messages_outbound_by_sender ON messages (lower(from_address), received_at) WHERE direction = 'outbound'`,
];

export async function up(knex: Knex): Promise<void> {
  for (const sql of statements) await knex.raw(sql);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw("DROP INDEX messages_outbound_by_sender");
  await knex.raw("ALTER TABLE messages DROP COLUMN report");
  await knex.raw("ALTER TABLE deliveries DROP COLUMN kind, DROP COLUMN receipt_requested");
  await knex.raw("ALTER TABLE mailboxes DROP COLUMN display_name");
}
