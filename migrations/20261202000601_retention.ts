// Retention (docs/design.md §What is stored): after RETENTION_DAYS a mail's content is cleared and
// `pruned_at` set, keeping only what threading reads (store/threads.ts); after THREAD_DAYS the row goes.
// Expand-only: a nullable column and partial indexes; an older version reads the cleared row as an
// empty mail (raw stays NOT NULL, cleared to zero bytes).
import type { Knex } from "knex";

export async function up(knex: Knex): Promise<void> {
  await knex.raw("ALTER TABLE messages ADD COLUMN pruned_at timestamptz");
  // The pruner walks each set in (received_at, id) order from where its batch ended (store/retention.ts).
  await knex.raw("CREATE INDEX messages_unpruned ON messages (received_at, id) WHERE pruned_at IS NULL");
  await knex.raw("CREATE INDEX messages_pruned ON messages (received_at, id) WHERE pruned_at IS NOT NULL");
  // A mailbox's inbound mail, for `mailbox purge` and a user's "forget" (outbound mail has
  // messages_outbound_by_sender).
  await knex.raw("CREATE INDEX deliveries_recipient_lower ON deliveries (lower(recipient)) WHERE direction = 'inbound'");
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw("DROP INDEX deliveries_recipient_lower");
  await knex.raw("DROP INDEX messages_pruned");
  await knex.raw("DROP INDEX messages_unpruned");
  await knex.raw("ALTER TABLE messages DROP COLUMN pruned_at");
}
