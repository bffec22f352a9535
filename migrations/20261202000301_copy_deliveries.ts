// A reply's copies (RFC 5322 §3.6.3 Cc) are outbound deliveries of the same message, each with a bounce
// address of its own (core/verp.ts), so that a report names the one recipient it is about. NULL: the
// message's own envelope sender (every delivery written before, and each mail's main recipient).
import type { Knex } from "knex";

export async function up(knex: Knex): Promise<void> {
  await knex.raw("ALTER TABLE deliveries ADD COLUMN mail_from text");
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw("ALTER TABLE deliveries DROP COLUMN mail_from");
}
