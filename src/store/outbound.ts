// The outgoing queue: chat messages queued as mail under the sending limits, a run of
// them in one transaction, and the relay's claim that reads each mail's bytes in the same statement.
import type { Knex } from "knex";
import { sanitizeText } from "../core/sanitize.ts";
import type { QueuedMail, SendLimit } from "../core/types.ts";
import { CLAIM_COLUMNS, claimBindings, claimSql } from "./delivery-states.ts";
import { newSecret } from "./messages.ts";

export type QueueResult = { queued: number } | { over: "minute" | "day" };
export interface SentCount { minute: number; day: number }

export interface ClaimedOutbound {
  id: number; messageId: number; recipient: string; jid: string; attempts: number; createdAt: Date;
  originStanzaId: string | null; delayNotified: boolean; receiptRequested: boolean;
  /** the claim's lease token: every outcome names it (delivery-states.ts) */
  lease: string;
  /** the envelope sender and the bytes rendered at queue time; null when the message row is gone */
  mailFrom: string | null; raw: Buffer | null;
}

/** Mails each mailbox (lower-cased) queued in the last minute and the last day. */
async function sentCounts(db: Knex | Knex.Transaction, boxes: string[]): Promise<Map<string, SentCount>> {
  const { rows } = await db.raw<{ rows: { mailbox: string; minute: number; day: number }[] }>(`
    SELECT lower(from_address) AS mailbox,
           count(*) FILTER (WHERE received_at > clock_timestamp() - interval '1 minute')::int AS minute,
           count(*)::int AS day
    FROM messages
    WHERE direction = 'outbound' AND lower(from_address) = ANY(?)
      AND received_at > clock_timestamp() - interval '1 day'
    GROUP BY 1`, [boxes]);
  const sent = new Map(boxes.map((b) => [b, { minute: 0, day: 0 }]));
  for (const r of rows) sent.set(r.mailbox, { minute: r.minute, day: r.day });
  return sent;
}

export function createOutboundStore(knex: Knex) {
  return {
    /**
     * The counts the sending limit is held to, read without the lock: what queue() will count, less the
     * mails other transactions have not committed yet. queue/admission.ts checks a run against them before
     * any of its work starts; queue() checks again under the lock and is the one that holds the limit.
     */
    sentCounts: (mailboxes: string[]) => sentCounts(knex, [...new Set(mailboxes.map((m) => m.toLowerCase()))]),

    /**
     * Queue outgoing mails (their bytes, one outbound delivery each and one per copy) in one transaction, in the order
     * given, refusing those that would put their mailbox over a limit. A per-mailbox transaction lock makes
     * count-then-insert atomic across gateway instances; the count is taken once under the lock and then
     * advanced mail by mail, so the answers are exactly those of queueing them one after the other.
     */
    async queue(inputs: QueuedMail[], limit: SendLimit): Promise<QueueResult[]> {
      if (inputs.length === 0) return [];
      return knex.transaction(async (trx) => {
        const results: (QueueResult | null)[] = inputs.map(() => null);
        if (limit.perMinute > 0 || limit.perDay > 0) {
          // Sorted, so that two transactions needing the same mailboxes take their locks in the same order.
          const boxes = [...new Set(inputs.map((i) => i.mailbox.toLowerCase()))].sort();
          for (const box of boxes) await trx.raw("SELECT pg_advisory_xact_lock(hashtext('passerelle.send:' || lower(?)))", [box]);
          const sent = await sentCounts(trx, boxes);
          inputs.forEach((input, i) => {
            const count = sent.get(input.mailbox.toLowerCase())!;
            if (limit.perMinute > 0 && count.minute >= limit.perMinute) results[i] = { over: "minute" };
            else if (limit.perDay > 0 && count.day >= limit.perDay) results[i] = { over: "day" };
            else { count.minute++; count.day++; }
          });
        }
        const chosen = inputs.filter((_, i) => results[i] === null);
        if (chosen.length > 0) {
          const messages = await trx("messages").insert(chosen.map((input) => ({
            // clock_timestamp(), not now(): a transaction that waited for the lock counts at its real time.
            received_at: trx.raw("clock_timestamp()"),
            token: input.token, direction: "outbound", mail_from: input.mailFrom, size: input.raw.length, raw: input.raw,
            subject: sanitizeText(input.subject), from_address: input.mailbox, message_id: input.messageId,
            body: sanitizeText(input.body), sent_at: new Date(),
          }))).returning(["id", "token"]) as { id: number; token: string }[];
          const ids = new Map(messages.map((m) => [m.token, Number(m.id)]));
          // Inserted in queue order: delivery ids follow it, and the relay claims by id.
          const deliveries = await trx("deliveries").insert(chosen.map((input) => ({
            message_id: ids.get(input.token), direction: "outbound", recipient: input.to, jid: input.jid,
            // Never sent as a stanza id; random like every other (docs/design.md §Who speaks for a delivery).
            stanza_id: newSecret(), bounce_secret: input.bounceSecret, origin_stanza_id: input.originStanzaId,
            receipt_requested: input.receiptRequested,
          }))).returning(["id", "message_id"]) as { id: number; message_id: number }[];
          // A reply's copies (Cc): the same bytes to each, one delivery each with its own envelope sender, so
          // each is retried, reported and failed alone. The user's chat message belongs to the main recipient:
          // its receipt and an error on it are that delivery's; a copy's trouble is told as a notice from the
          // copy's contact (docs/design.md §Replies).
          const copies = chosen.flatMap((input) => (input.copies ?? []).map((c) => ({
            message_id: ids.get(input.token), direction: "outbound", recipient: c.to, jid: input.jid, stanza_id: newSecret(),
            bounce_secret: c.bounceSecret, mail_from: c.mailFrom, origin_stanza_id: null, receipt_requested: false,
          })));
          if (copies.length) await trx("deliveries").insert(copies);
          const byMessage = new Map(deliveries.map((d) => [Number(d.message_id), Number(d.id)]));
          let next = 0;
          results.forEach((r, i) => {
            if (r === null) results[i] = { queued: byMessage.get(ids.get(chosen[next++]!.token)!)! };
          });
        }
        return results as QueueResult[];
      });
    },

    /**
     * Lease up to `limit` due outgoing deliveries, oldest first, with the mail each one sends: one statement
     * (claimSql, docs/design.md §Delivery state machine). Due: pending and its time has come, or a lease
     * that ran out (its worker crashed, lost the database or stopped renewing).
     */
    async claim(worker: string, limit: number, leaseSeconds: number): Promise<ClaimedOutbound[]> {
      const { rows } = await knex.raw<{ rows: ClaimedOutbound[] }>(claimSql(`${CLAIM_COLUMNS}, coalesce(d.mail_from, m.mail_from) AS "mailFrom", m.raw`,
        "LEFT JOIN messages m ON m.id = d.message_id"), claimBindings("outbound", limit, worker, leaseSeconds));
      return rows.map((r) => ({ ...r, id: Number(r.id), messageId: Number(r.messageId) }));
    },
  };
}

export type OutboundStore = ReturnType<typeof createOutboundStore>;
