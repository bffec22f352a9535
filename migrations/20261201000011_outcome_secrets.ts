// Only the right party speaks for a delivery (docs/design.md §Who speaks for a delivery): stanza ids and
// bounce addresses become random secrets, unrelated to the queue token a sender sees (`250 … queued as`)
// and to the Message-ID that replies repeat.
import { randomBytes } from "node:crypto";
import type { Knex } from "knex";

// The format of store/messages.ts newSecret(), written out here: a landed migration never changes.
const BASE32 = "0123456789abcdefghjkmnpqrstvwxyz";
const secret = () => [...randomBytes(26)].map((b) => BASE32[b & 31]).join("");
const CHUNK = 10_000;

export async function up(knex: Knex): Promise<void> {
  // The secret a delivery report must name (core/verp.ts), one per outgoing mail; NULL for inbound rows.
  await knex.raw("ALTER TABLE deliveries ADD COLUMN bounce_secret text UNIQUE");
  // Rows still to be sent get a new stanza id: their old one (`<token>.<n>`) was told to the SMTP sender.
  // Delivered rows keep theirs, so XEP-0461 replies to old messages still thread; an error naming one
  // counts only from its recipient or the recipient's server (store/deliveries.ts bounce).
  // Every outgoing row gets a bounce secret that never left the gateway: bounce addresses made from a
  // message token (its Message-ID) name nothing any more.
  for (let after = 0; ;) {
    const { rows } = await knex.raw<{ rows: { id: string }[] }>(`
      SELECT id FROM deliveries WHERE id > ? AND (status IN ('pending', 'sending') OR direction = 'outbound')
      ORDER BY id LIMIT ?`, [after, CHUNK]);
    if (rows.length === 0) break;
    const ids = rows.map((r) => r.id);
    await knex.raw(`
      UPDATE deliveries d SET
        stanza_id = CASE WHEN d.status IN ('pending', 'sending') THEN u.stanza_id ELSE d.stanza_id END,
        bounce_secret = CASE WHEN d.direction = 'outbound' THEN u.secret END
      FROM unnest(?::bigint[], ?::text[], ?::text[]) AS u(id, stanza_id, secret) WHERE d.id = u.id`,
    [ids, ids.map(secret), ids.map(secret)]);
    after = Number(ids[ids.length - 1]);
  }
  // The envelope sender the relay uses (store/outbound.ts claim) names the new secret: a mail still
  // waiting, or re-driven with `queue retry`, leaves with a bounce address that works.
  await knex.raw(`
    UPDATE messages m SET mail_from = regexp_replace(m.mail_from, '^bounces\\+[^@]*@', 'bounces+' || d.bounce_secret || '@', 'i')
    FROM deliveries d
    WHERE d.message_id = m.id AND d.direction = 'outbound' AND m.direction = 'outbound' AND d.bounce_secret IS NOT NULL`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw("ALTER TABLE deliveries DROP COLUMN bounce_secret");
}
