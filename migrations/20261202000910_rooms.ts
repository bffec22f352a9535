// Conference rooms with a mail address (docs/design.md §Rooms with an address): `rooms` maps an address of
// MAIL_DOMAINS to a XEP-0045 room, refused at RCPT like a mailbox when unknown or disabled; a change is
// notified like one to `mailboxes`, so it applies to the next SMTP transaction. Deliveries to a room are
// of kind `room`.
import type { Knex } from "knex";

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`CREATE TABLE rooms (
    address text PRIMARY KEY,
    room_jid text NOT NULL,
    enabled boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now())`);
  await knex.raw("CREATE UNIQUE INDEX rooms_address_lower ON rooms (lower(address))");
  await knex.raw("CREATE INDEX rooms_jid_lower ON rooms (lower(room_jid))");
  await knex.raw(`CREATE TRIGGER rooms_notify AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON rooms
    FOR EACH STATEMENT EXECUTE FUNCTION passerelle_notify_mailboxes()`);
  await knex.raw("ALTER TABLE deliveries DROP CONSTRAINT IF EXISTS deliveries_kind_check");
  await knex.raw("ALTER TABLE deliveries ADD CONSTRAINT deliveries_kind_check CHECK (kind IN ('mail', 'report', 'room'))");
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw("DELETE FROM deliveries WHERE kind = 'room'");
  await knex.raw("ALTER TABLE deliveries DROP CONSTRAINT deliveries_kind_check");
  await knex.raw("ALTER TABLE deliveries ADD CONSTRAINT deliveries_kind_check CHECK (kind IN ('mail', 'report'))");
  await knex.raw("DROP TABLE rooms");
}
