// Threads of outgoing mail (issue #3): which inbound mail a reply answers, queueing the reply under the
// sending limits, and the mail a VERP bounce address names.
import type { Knex } from "knex";
import { sanitizeText } from "../core/sanitize.ts";
import type { BounceTarget, QueuedMail, SendLimit, ThreadParent } from "../core/types.ts";

export function createThreadStore(knex: Knex) {
  const parentColumns = ["d.recipient AS mailbox", "m.subject", "m.message_id AS messageId", "m.references",
    "m.from_address AS correspondent"];
  return {
    /** XEP-0461: the inbound mail whose chat message had this stable id, if it went to one of `mailboxes`. */
    async byStanzaId(stanzaId: string, mailboxes: string[]): Promise<ThreadParent | undefined> {
      return knex("deliveries as d").join("messages as m", "m.id", "d.message_id")
        .where({ "d.stanza_id": stanzaId, "d.direction": "inbound" })
        .whereRaw("lower(d.recipient) = ANY(?)", [mailboxes.map((a) => a.toLowerCase())])
        .first(parentColumns);
    },
    /** The latest inbound mail from `correspondent` to any of `mailboxes`. */
    async latestFrom(correspondent: string, mailboxes: string[]): Promise<ThreadParent | undefined> {
      return knex("messages as m").join("deliveries as d", "d.message_id", "m.id")
        .where({ "m.direction": "inbound" })
        .whereRaw("lower(m.from_address) = lower(?)", [correspondent])
        .whereRaw("lower(d.recipient) = ANY(?)", [mailboxes.map((a) => a.toLowerCase())])
        .orderBy("m.id", "desc").first(parentColumns);
    },
    /**
     * Queue an outgoing mail (its bytes and one outbound delivery) unless its mailbox is over a limit.
     * A per-mailbox transaction lock makes count-then-insert atomic across gateway instances: no burst
     * of concurrent messages can slip past the limit.
     */
    async queue(input: QueuedMail, limit: SendLimit): Promise<{ queued: number } | { over: "minute" | "day" }> {
      return knex.transaction(async (trx) => {
        if (limit.perMinute > 0 || limit.perDay > 0) {
          await trx.raw("SELECT pg_advisory_xact_lock(hashtext('passerelle.send:' || lower(?)))", [input.mailbox]);
          const { rows: [sent] } = await trx.raw<{ rows: { minute: number; day: number }[] }>(`
            SELECT count(*) FILTER (WHERE received_at > clock_timestamp() - interval '1 minute')::int AS minute,
                   count(*)::int AS day
            FROM messages
            WHERE direction = 'outbound' AND lower(from_address) = lower(?)
              AND received_at > clock_timestamp() - interval '1 day'`, [input.mailbox]);
          if (limit.perMinute > 0 && sent!.minute >= limit.perMinute) return { over: "minute" as const };
          if (limit.perDay > 0 && sent!.day >= limit.perDay) return { over: "day" as const };
        }
        const [row] = await trx("messages").insert({
          // clock_timestamp(), not now(): a transaction that waited for the lock counts at its real time.
          received_at: trx.raw("clock_timestamp()"),
          token: input.token, direction: "outbound", mail_from: input.mailFrom, size: input.raw.length, raw: input.raw,
          subject: sanitizeText(input.subject), from_address: input.mailbox, message_id: input.messageId,
          body: sanitizeText(input.body), sent_at: new Date(),
        }).returning("id") as { id: number }[];
        const [delivery] = await trx("deliveries").insert({
          message_id: row!.id, direction: "outbound", recipient: input.to, jid: input.jid,
          stanza_id: `${input.token}.out`, origin_stanza_id: input.originStanzaId,
          receipt_requested: input.receiptRequested,
        }).returning("id") as { id: number }[];
        return { queued: delivery!.id };
      });
    },

    /** The outgoing mail a VERP bounce address names (core/verp.ts), while its row exists. */
    async bounceTarget(token: string): Promise<{ mailbox: string; target: BounceTarget } | undefined> {
      // Only while the sending mailbox is enabled: a disabled mailbox receives nothing, reports included.
      const row = await knex("messages as m").join("deliveries as d", "d.message_id", "m.id")
        .joinRaw("JOIN mailboxes mb ON lower(mb.address) = lower(m.from_address) AND mb.enabled")
        .where({ "m.token": token, "m.direction": "outbound", "d.direction": "outbound" })
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
