// The delivery table is the queue (design: graphile-worker's one-statement claim with SKIP LOCKED).
import type { Knex } from "knex";
import { sanitizeText } from "../core/sanitize.ts";
import type { MailboxSettings } from "./mailboxes.ts";
import { MESSAGE_COLUMNS, toStored, type MessageRow, type StoredMessage } from "./messages.ts";

export type DeliveryStatus = "pending" | "sending" | "delivered" | "failed";

export interface ClaimedDelivery {
  id: number;
  messageId: number;
  recipient: string;
  jid: string;
  stanzaId: string;
  attempts: number;
  createdAt: Date;
  originStanzaId: string | null;
  delayNotified: boolean;
  receiptRequested: boolean;
  /** "mail", or "report": an error about an outgoing mail, from a delivery status notification */
  kind: "mail" | "report";
}

export interface DeliveryRow extends ClaimedDelivery {
  status: DeliveryStatus;
  direction: string;
  nextAttemptAt: Date;
  lastError: string | null;
  deliveredAt: Date | null;
}

/** A claimed delivery's own columns, from the claim's `d` (claimSql). */
export const CLAIM_COLUMNS = `d.id, d.message_id AS "messageId", d.recipient, d.jid, d.stanza_id AS "stanzaId",
  d.attempts, d.created_at AS "createdAt", d.origin_stanza_id AS "originStanzaId", d.delay_notified AS "delayNotified",
  d.receipt_requested AS "receiptRequested", d.kind`;

/**
 * Lease up to `limit` due deliveries of one direction, oldest first, and select from them. A row is due
 * when pending and its time has come, or when a worker's lease ran out (it crashed or lost the database
 * mid-batch). Bindings: direction, limit, worker, lease seconds.
 */
export const claimSql = (select: string, join: string) => `
  WITH due AS (
    SELECT id FROM deliveries
    WHERE direction = ?
      AND ((status = 'pending' AND next_attempt_at <= now()) OR (status = 'sending' AND locked_until < now()))
      -- A mailbox whose user paused delivery keeps its mail waiting, in order (issue #5 settings).
      AND NOT EXISTS (SELECT 1 FROM mailboxes mb
                      WHERE deliveries.direction = 'inbound' AND deliveries.kind = 'mail'
                        AND lower(mb.address) = lower(deliveries.recipient) AND mb.paused)
    ORDER BY id
    LIMIT ?
    FOR UPDATE SKIP LOCKED
  ), d AS (
    UPDATE deliveries
    SET status = 'sending', attempts = deliveries.attempts + 1, locked_by = ?, updated_at = now(),
        locked_until = now() + make_interval(secs => ?)
    FROM due WHERE deliveries.id = due.id
    RETURNING deliveries.*
  )
  SELECT ${select} FROM d ${join} ORDER BY d.id`;

export interface ClaimedWithMessage extends ClaimedDelivery {
  stored: StoredMessage | null;
  settings: MailboxSettings | null;
}

export function createDeliveryStore(knex: Knex) {
  const reason = (text: string) => sanitizeText(text).slice(0, 2000);
  return {
    /**
     * Lease up to `limit` due inbound deliveries, oldest first (claimSql), with what delivering needs in
     * the same round trip: each one's stored mail (parsed side; null when the row is gone) and its
     * mailbox's settings (null: the defaults).
     */
    async claim(worker: string, limit: number, leaseSeconds: number): Promise<ClaimedWithMessage[]> {
      const { rows } = await knex.raw<{ rows: (ClaimedDelivery & Record<string, unknown>)[] }>(claimSql(
        `${CLAIM_COLUMNS}, ${MESSAGE_COLUMNS.map((c) => `m.${c} AS "m_${c}"`).join(", ")},
         mb.collapse_quotes AS "collapseQuotes", mb.show_headers AS "showHeaders"`,
        `LEFT JOIN messages m ON m.id = d.message_id LEFT JOIN mailboxes mb ON lower(mb.address) = lower(d.recipient)`,
      ), ["inbound", limit, worker, leaseSeconds]);
      return rows.map((r) => {
        const delivery = Object.fromEntries(Object.entries(r).filter(([k]) => !k.startsWith("m_") && k !== "collapseQuotes" && k !== "showHeaders"));
        const message = Object.fromEntries(MESSAGE_COLUMNS.map((c) => [c, r[`m_${c}`]])) as unknown as MessageRow;
        return { ...delivery as unknown as ClaimedDelivery,
          stored: message.id === null ? null : toStored(message),
          settings: r.collapseQuotes === null ? null
            : { collapseQuotes: r.collapseQuotes as boolean, showHeaders: r.showHeaders as boolean } };
      });
    },

    /** Only while this worker still holds the lease: an expired lease may have passed the row on. */
    async markDelivered(worker: string, ids: number[]): Promise<number> {
      if (ids.length === 0) return 0;
      return knex("deliveries").whereIn("id", ids).where({ status: "sending", locked_by: worker })
        .update({ status: "delivered", delivered_at: knex.fn.now(), locked_until: null, last_error: null, updated_at: knex.fn.now() });
    },

    /** Give leased rows back untouched (the link went down before they were sent): not an attempt. */
    async release(worker: string, ids: number[]): Promise<void> {
      if (ids.length === 0) return;
      await knex("deliveries").whereIn("id", ids).where({ status: "sending", locked_by: worker }).update({
        status: "pending", attempts: knex.raw("greatest(attempts - 1, 0)"), locked_until: null, locked_by: null,
        updated_at: knex.fn.now(),
      });
    },

    /** A temporary failure: try again in `seconds`; `notified` records that the user was told of the delay. */
    async retryLater(worker: string, id: number, seconds: number, why: string, notified: boolean): Promise<void> {
      await knex("deliveries").where({ id, locked_by: worker }).update({
        status: "pending", next_attempt_at: knex.raw("now() + make_interval(secs => ?)", [seconds]),
        last_error: reason(why), locked_until: null, locked_by: null, delay_notified: notified, updated_at: knex.fn.now(),
      });
    },

    async fail(id: number, why: string): Promise<void> {
      await knex("deliveries").where({ id }).update({
        status: "failed", last_error: reason(why), locked_until: null, updated_at: knex.fn.now(),
      });
    },

    /**
     * An error stanza naming one of our stanzas (RFC 6120 §8.3), in one guarded statement. It counts only
     * when it comes from the delivery's recipient (its bare JID or any full JID of it) or from the
     * recipient's server (its domain): RFC 6120 §8.3 errors are generated by the entity or its server, and
     * a server stamps or checks `from` on what its users send (RFC 6120 §8.1.2.1), so a stranger cannot
     * speak as either (docs/design.md §Who speaks for a delivery).
     * And only for a delivery in flight: `sending`, or delivered within `windowSeconds` (errors come back
     * within seconds); a permanent error also fails a `pending` one (sent before, waiting for its retry).
     * A permanent error fails the delivery; a temporary one schedules the next attempt by `schedule`
     * (indexed by attempts made), or fails it once it is older than `maxAgeSeconds` or has had
     * `maxAttempts` attempts. A replayed `wait` therefore brings a mail back at most once per attempt.
     * Undefined when nothing changed.
     */
    async bounce(error: { stanzaId: string; from: string; permanent: boolean; why: string }, limits: BounceLimits)
      : Promise<{ id: number; status: DeliveryStatus } | undefined> {
      const bare = error.from.split("/")[0]!;
      const { rows } = await knex.raw<{ rows: { id: number; status: DeliveryStatus }[] }>(`
        UPDATE deliveries SET
          status = CASE WHEN ? OR created_at < now() - make_interval(secs => ?) OR attempts >= ? THEN 'failed' ELSE 'pending' END,
          next_attempt_at = now() + make_interval(secs => (?::int[])[least(greatest(attempts, 1), cardinality(?::int[]))]),
          last_error = ?, locked_until = NULL, locked_by = NULL, delivered_at = NULL, updated_at = now()
        WHERE stanza_id = ? AND direction = 'inbound'
          AND (lower(split_part(jid, '/', 1)) = lower(nullif(?, ''))
               OR lower(split_part(split_part(jid, '/', 1), '@', 2)) = lower(nullif(?, '')))
          AND (status = 'sending' OR (status = 'delivered' AND delivered_at > now() - make_interval(secs => ?))
               OR (? AND status = 'pending'))
        RETURNING id, status`, [error.permanent, limits.maxAgeSeconds, limits.maxAttempts, [...limits.schedule], [...limits.schedule],
        reason(error.why), error.stanzaId, bare, error.from, limits.windowSeconds, error.permanent]);
      return rows[0];
    },

    async list(statuses: DeliveryStatus[], limit = 100): Promise<DeliveryRow[]> {
      const { rows } = await knex.raw<{ rows: DeliveryRow[] }>(`
        SELECT ${CLAIM_COLUMNS}, d.status, d.direction, d.next_attempt_at AS "nextAttemptAt",
               d.last_error AS "lastError", d.delivered_at AS "deliveredAt"
        FROM deliveries d WHERE d.status = ANY(?) ORDER BY d.id LIMIT ?`, [statuses, limit]);
      return rows;
    },

    /** Re-drive one delivery now, whatever its state (admin action: `queue retry ID`). */
    async retry(id: number): Promise<boolean> {
      return (await knex("deliveries").where({ id }).update({
        status: "pending", next_attempt_at: knex.fn.now(), locked_until: null, locked_by: null,
        updated_at: knex.fn.now(),
      })) > 0;
    },

    async counts(): Promise<Record<DeliveryStatus, number> & { oldestWaitingSeconds: number | null }> {
      const { rows } = await knex.raw<{ rows: { status: DeliveryStatus; n: number; oldest: number | null }[] }>(`
        SELECT status, count(*)::int AS n,
               extract(epoch FROM now() - min(created_at))::float AS oldest
        FROM deliveries GROUP BY status`);
      const out = { pending: 0, sending: 0, delivered: 0, failed: 0, oldestWaitingSeconds: null as number | null };
      for (const r of rows) {
        out[r.status] = r.n;
        if (r.status === "pending" || r.status === "sending") {
          out.oldestWaitingSeconds = Math.max(out.oldestWaitingSeconds ?? 0, r.oldest ?? 0);
        }
      }
      return out;
    },
  };
}

export type DeliveryStore = ReturnType<typeof createDeliveryStore>;

/** How far an error stanza may move a delivery (bounce). */
export interface BounceLimits {
  /** delays before the next attempt, by attempts made; the last one repeats */
  schedule: readonly number[];
  maxAgeSeconds: number;
  maxAttempts: number;
  /** how long after delivery an error still counts */
  windowSeconds: number;
}
