// A native XMPP gateway (issue #5): presence subscriptions, self-service mailboxes, per-mailbox settings,
// receipts from the user's client.
import type { Knex } from "knex";

const statements = [
  // RFC 6121 §3: the subscription state between a user (bare JID) and one of our JIDs (the gateway
  // itself or a contact). `from`: the user receives our presence; `to`: we receive theirs.
  `CREATE TABLE subscriptions (
    user_jid    text NOT NULL,
    contact_jid text NOT NULL,
    from_user   boolean NOT NULL DEFAULT false,
    to_user     boolean NOT NULL DEFAULT false,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_jid, contact_jid)
  )`,
  // Created by XEP-0077 registration (self-service): unregistering disables only those.
  `ALTER TABLE mailboxes ADD COLUMN self_service boolean NOT NULL DEFAULT false`,
  // Delivery paused by the user: mail is accepted and waits in the queue.
  `ALTER TABLE mailboxes ADD COLUMN paused boolean NOT NULL DEFAULT false`,
  // Show the mail's full header block above the text.
  `ALTER TABLE mailboxes ADD COLUMN show_headers boolean NOT NULL DEFAULT false`,
  // XEP-0184: when the user's client acknowledged the chat message (delivery is proven earlier, by the server).
  `ALTER TABLE deliveries ADD COLUMN receipt_at timestamptz`,
];

export async function up(knex: Knex): Promise<void> {
  for (const sql of statements) await knex.raw(sql);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw("ALTER TABLE deliveries DROP COLUMN receipt_at");
  await knex.raw("ALTER TABLE mailboxes DROP COLUMN show_headers, DROP COLUMN paused, DROP COLUMN self_service");
  await knex.raw("DROP TABLE subscriptions");
}
