// Sender authentication of inbound mail (issue #6): the verdict shown to the user.
import type { Knex } from "knex";

export async function up(knex: Knex): Promise<void> {
  // {verified, warning, dmarc, fromDomain}: null when authentication was off (AUTH_MODE=off).
  await knex.raw("ALTER TABLE messages ADD COLUMN authentication jsonb");
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw("ALTER TABLE messages DROP COLUMN authentication");
}
