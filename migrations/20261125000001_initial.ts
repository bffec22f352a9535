// Initial schema. Landed migrations are never edited: add a new file instead.
// PGlite runs each call as one prepared statement: one statement per call (PostgreSQL is fine with that).
import type { Knex } from "knex";

const statements = [
  // The contract's table (design: Data). Addresses compare case-insensitively: one row per lower(address).
  `CREATE TABLE mailboxes (
    address    text PRIMARY KEY,
    jid        text NOT NULL,
    enabled    boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now()
  )`,
  `CREATE UNIQUE INDEX mailboxes_address_lower ON mailboxes (lower(address))`,
  `CREATE INDEX mailboxes_jid_lower ON mailboxes (lower(jid))`,

  // One row per accepted mail: the raw bytes as received, plus what the parser found.
  `CREATE TABLE messages (
    id             bigserial PRIMARY KEY,
    token          text NOT NULL UNIQUE,
    received_at    timestamptz NOT NULL DEFAULT now(),
    mail_from      text NOT NULL,
    remote_address text,
    helo           text,
    size           integer NOT NULL,
    raw            bytea NOT NULL,
    subject        text NOT NULL DEFAULT '',
    from_address   text,
    from_name      text,
    message_id     text,
    sent_at        timestamptz,
    body           text NOT NULL DEFAULT '',
    body_from_html boolean NOT NULL DEFAULT false,
    attachments    jsonb NOT NULL DEFAULT '[]'
  )`,
  `CREATE INDEX messages_message_id ON messages (message_id)`,

  // The queue: one row per recipient. status moves pending → sending (leased) → delivered | failed;
  // a lease that runs out puts a sending row back in reach of any worker.
  `CREATE TABLE deliveries (
    id              bigserial PRIMARY KEY,
    message_id      bigint NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    direction       text NOT NULL DEFAULT 'inbound' CHECK (direction IN ('inbound', 'outbound')),
    recipient       text NOT NULL,
    jid             text NOT NULL,
    stanza_id       text NOT NULL UNIQUE,
    status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sending', 'delivered', 'failed')),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    locked_until    timestamptz,
    locked_by       text,
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    delivered_at    timestamptz
  )`,
  `CREATE INDEX deliveries_due ON deliveries (next_attempt_at, id) WHERE status IN ('pending', 'sending')`,
  `CREATE INDEX deliveries_message ON deliveries (message_id)`,

  // Wake the workers when a delivery becomes due, whoever wrote it (the gateway, the CLI, psql).
  // Identical notifications in one transaction are folded into one by PostgreSQL.
  `CREATE FUNCTION passerelle_notify_deliveries() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
    PERFORM pg_notify('passerelle_deliveries', '');
    RETURN NULL;
  END $$`,
  `CREATE TRIGGER deliveries_notify AFTER INSERT OR UPDATE OF status, next_attempt_at ON deliveries
    FOR EACH ROW WHEN (NEW.status = 'pending') EXECUTE FUNCTION passerelle_notify_deliveries()`,
];

export async function up(knex: Knex): Promise<void> {
  for (const sql of statements) await knex.raw(sql);
}

export async function down(knex: Knex): Promise<void> {
  for (const table of ["deliveries", "messages", "mailboxes"]) await knex.schema.dropTable(table);
  await knex.raw("DROP FUNCTION passerelle_notify_deliveries()");
}
