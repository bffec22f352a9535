// Full mail on the web (issue #4): a secret per message for `GET /m/<token>`.
import type { Knex } from "knex";

export async function up(knex: Knex): Promise<void> {
  // 32 random bytes, base64url (43 characters), made at acceptance in the same INSERT as the mail; not
  // derived from the id or the queue token (`token` shows in stanza ids), so it tells nothing of other mail.
  // NULL for outgoing mail (the user wrote it, no page is linked) and for mail accepted before this
  // migration: no chat message ever carried a link to those, so a token made now would be unknown to all.
  // The link's lifetime is not stored: `received_at + WEB_LINK_DAYS` is computed when the page is asked
  // for, so a change of the setting applies to every link. UNIQUE gives the index the lookup uses.
  await knex.raw("ALTER TABLE messages ADD COLUMN web_token text UNIQUE");
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw("ALTER TABLE messages DROP COLUMN web_token");
}
