// RFC 6121 §3.1.3: the gateway asks a user for their presence in return at most once per (user, contact)
// pair (docs/design.md §Budgets): `asked_at` remembers when it did, so a repeated subscription request is
// answered `subscribed` and nothing more.
import type { Knex } from "knex";

export async function up(knex: Knex): Promise<void> {
  await knex.raw("ALTER TABLE subscriptions ADD COLUMN asked_at timestamptz");
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw("ALTER TABLE subscriptions DROP COLUMN asked_at");
}
