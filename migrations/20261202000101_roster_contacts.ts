// XEP-0356 roster items the gateway put in a user's roster (docs/design.md §Roster and privileges): what it
// added and named, what it saw the user do with them (renamed: "user"; removed: "removed", never re-added),
// and a per-mailbox switch. Expand-only: a new table and a column with a default.
import type { Knex } from "knex";

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`CREATE TABLE roster_contacts (
    user_jid text NOT NULL,
    address text NOT NULL,
    state text NOT NULL CHECK (state IN ('added', 'user', 'removed')),
    name text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_jid, address)
  )`);
  await knex.raw("ALTER TABLE mailboxes ADD COLUMN roster_names boolean NOT NULL DEFAULT true");
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw("ALTER TABLE mailboxes DROP COLUMN roster_names");
  await knex.raw("DROP TABLE roster_contacts");
}
