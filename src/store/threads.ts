// Threads of outgoing mail: which inbound mail a reply answers, and the mail a VERP bounce
// address names. Queueing the reply is store/outbound.ts.
import type { Knex } from "knex";
import type { BounceTarget, ThreadParent } from "../core/types.ts";

/** The answered mail's To and Cc as its one parse stored them (messages.parts), read only as far as a reply
 * copies (core/reply-all.ts): never the raw mail. */
const ADDRESS_LISTS = `left(coalesce(m.parts->>'to', ''), 16384) AS "to", left(coalesce(m.parts->>'cc', ''), 16384) AS cc`;

export function createThreadStore(knex: Knex) {
  const parentColumns = ["d.recipient AS mailbox", "m.subject", "m.message_id AS messageId", "m.references",
    "m.from_address AS correspondent", "d.addressed_to AS addressedTo", "m.from_name AS correspondentName", knex.raw(ADDRESS_LISTS)];
  return {
    /** XEP-0461: the inbound mail whose chat message had this stable id, if it went to one of `mailboxes`. */
    async byStanzaId(stanzaId: string, mailboxes: string[]): Promise<ThreadParent | undefined> {
      return knex("deliveries as d").join("messages as m", "m.id", "d.message_id")
        .where({ "d.stanza_id": stanzaId, "d.direction": "inbound" })
        .whereRaw("lower(d.recipient) = ANY(?)", [mailboxes.map((a) => a.toLowerCase())])
        .first(parentColumns);
    },
    /**
     * The latest inbound mail from each of `correspondents` to any of `mailboxes`, in one query; keyed by
     * the lower-cased correspondent, absent when there is none.
     */
    async latestFrom(correspondents: string[], mailboxes: string[]): Promise<Map<string, ThreadParent>> {
      const wanted = [...new Set(correspondents.map((c) => c.toLowerCase()))];
      if (wanted.length === 0 || mailboxes.length === 0) return new Map();
      const { rows } = await knex.raw<{ rows: (ThreadParent & { wanted: string })[] }>(`
        SELECT w.wanted, p.* FROM unnest(?::text[]) AS w(wanted)
        CROSS JOIN LATERAL (
          SELECT d.recipient AS mailbox, m.subject, m.message_id AS "messageId", m.references,
                 m.from_address AS correspondent, d.addressed_to AS "addressedTo", m.from_name AS "correspondentName", ${ADDRESS_LISTS}
          FROM messages m JOIN deliveries d ON d.message_id = m.id
          WHERE m.direction = 'inbound' AND lower(m.from_address) = w.wanted AND lower(d.recipient) = ANY(?)
          ORDER BY m.id DESC LIMIT 1) p`, [wanted, mailboxes.map((a) => a.toLowerCase())]);
      return new Map(rows.map(({ wanted: key, ...parent }) => [key, parent]));
    },

    /**
     * The outgoing mail a VERP bounce address names by its bounce secret (core/verp.ts), while its row
     * exists. Never by the message token: that one is the Message-ID's local part, which every reply's
     * References repeats (docs/design.md §Who speaks for a delivery).
     */
    async bounceTarget(secret: string): Promise<{ mailbox: string; target: BounceTarget } | undefined> {
      // Only while the sending mailbox is enabled: a disabled mailbox receives nothing, reports included.
      const row = await knex("deliveries as d").join("messages as m", "m.id", "d.message_id")
        .joinRaw("JOIN mailboxes mb ON lower(mb.address) = lower(m.from_address) AND mb.enabled")
        .where({ "d.bounce_secret": secret, "d.direction": "outbound", "m.direction": "outbound" })
        .first<{ mailbox: string; deliveryId: number; correspondent: string; userJid: string; originStanzaId: string | null }>(
          "m.from_address AS mailbox", "d.id AS deliveryId", "d.recipient AS correspondent", "d.jid AS userJid",
          "d.origin_stanza_id AS originStanzaId");
      if (!row) return undefined;
      const { mailbox, ...target } = row;
      return { mailbox, target };
    },
  };
}

export type ThreadStore = ReturnType<typeof createThreadStore>;
