// A delivery's lease (docs/design.md §Delivery state machine): the random token of the claim that holds it.
// Every outcome names it, so the answer of a worker whose lease ran out changes nothing; `locked_by` stays,
// to say which worker holds it.
import type { Knex } from "knex";

export async function up(knex: Knex): Promise<void> {
  await knex.raw("ALTER TABLE deliveries ADD COLUMN lease text");
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw("ALTER TABLE deliveries DROP COLUMN lease");
}
