// Spam and unwanted mail (docs/design.md §Spam), expand-only: the content filter's verdict of each mail,
// a mailbox's choice to hold spam, the senders its user blocked, and the `held` delivery state (no
// worker of any version claims it: every claim asks for pending or sending).
import type { Knex } from "knex";

export async function up(knex: Knex): Promise<void> {
  // {action, score, required, symbols[], unfiltered?}; NULL when no filter is configured.
  await knex.raw("ALTER TABLE messages ADD COLUMN spam jsonb");
  await knex.raw("ALTER TABLE mailboxes ADD COLUMN hold_spam boolean NOT NULL DEFAULT false");
  await knex.raw(`ALTER TABLE deliveries DROP CONSTRAINT deliveries_status_check,
    ADD CONSTRAINT deliveries_status_check CHECK (status IN ('pending', 'sending', 'delivered', 'failed', 'held'))`);
  await knex.raw(`CREATE INDEX deliveries_held ON deliveries (lower(split_part(jid, '/', 1)), id) WHERE status = 'held'`);
  // `mailbox` and `sender` in lower case; `sender` is matched against the envelope sender at RCPT,
  // through `sender_hash` (src/core/sender-hash.ts: what the RCPT lookup carries); `named` is the
  // address the user blocked (a contact's address, or the envelope sender of its mail).
  await knex.raw(`CREATE TABLE blocked_senders (
    mailbox     text NOT NULL,
    sender      text NOT NULL,
    sender_hash bigint NOT NULL,
    named       text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (mailbox, sender))`);
  // The RCPT lookup remembers a mailbox with its blocked senders (store/mailbox-cache.ts): a change
  // to either is the same notice.
  await knex.raw(`CREATE TRIGGER blocked_senders_notify AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON blocked_senders
    FOR EACH STATEMENT EXECUTE FUNCTION passerelle_notify_mailboxes()`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw("DROP TABLE blocked_senders");
  await knex.raw("DROP INDEX deliveries_held");
  await knex.raw("UPDATE deliveries SET status = 'pending' WHERE status = 'held'");
  await knex.raw(`ALTER TABLE deliveries DROP CONSTRAINT deliveries_status_check,
    ADD CONSTRAINT deliveries_status_check CHECK (status IN ('pending', 'sending', 'delivered', 'failed'))`);
  await knex.raw("ALTER TABLE mailboxes DROP COLUMN hold_spam");
  await knex.raw("ALTER TABLE messages DROP COLUMN spam");
}
