// Presence badges (docs/design.md §Presence badges): one per user who opted in, under a random id that
// is never derived from the JID; the last status the user's server told us, and since when.
import type { Knex } from "knex";

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`CREATE TABLE badges (
    id text PRIMARY KEY,
    user_jid text NOT NULL UNIQUE,
    show_message boolean NOT NULL DEFAULT false,
    status text NOT NULL DEFAULT 'offline',
    message text,
    since timestamptz NOT NULL DEFAULT now(),
    created_at timestamptz NOT NULL DEFAULT now())`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw("DROP TABLE badges");
}
