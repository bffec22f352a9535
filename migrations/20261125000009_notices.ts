// Say what changed in the NOTIFY payload (store/db.ts `Notice`), so each listener wakes only for its own
// work: the inbound worker for inbound deliveries, the relay for outbound ones, the mailbox cache of the
// SMTP listener for any change to `mailboxes` (design, Data: SQL changes apply to the next transaction).
// PostgreSQL folds identical notifications of one transaction into one: at most one per direction.
import type { Knex } from "knex";

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`CREATE OR REPLACE FUNCTION passerelle_notify_deliveries() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
    PERFORM pg_notify('passerelle_deliveries', NEW.direction);
    RETURN NULL;
  END $$`);
  await knex.raw(`CREATE FUNCTION passerelle_notify_mailboxes() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
    PERFORM pg_notify('passerelle_deliveries', 'mailboxes');
    RETURN NULL;
  END $$`);
  await knex.raw(`CREATE TRIGGER mailboxes_notify AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON mailboxes
    FOR EACH STATEMENT EXECUTE FUNCTION passerelle_notify_mailboxes()`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw("DROP TRIGGER mailboxes_notify ON mailboxes");
  await knex.raw("DROP FUNCTION passerelle_notify_mailboxes()");
  await knex.raw(`CREATE OR REPLACE FUNCTION passerelle_notify_deliveries() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
    PERFORM pg_notify('passerelle_deliveries', '');
    RETURN NULL;
  END $$`);
}
