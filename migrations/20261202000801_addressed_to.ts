// The address a mail was sent to, when it reached its mailbox by another one (docs/design.md §Addresses):
// a subaddress (`toto+news@` for `toto@`) or an address a catch-all (`*@domain`) took. Shown in the chat
// and kept so the reply leaves from it. NULL: the mailbox's own address (every row written before).
import type { Knex } from "knex";

export async function up(knex: Knex): Promise<void> {
  await knex.raw("ALTER TABLE deliveries ADD COLUMN addressed_to text");
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw("ALTER TABLE deliveries DROP COLUMN addressed_to");
}
