// The delivery state machine (docs/design.md §Delivery state machine). One row of `deliveries` per
// recipient and direction; every transition is ONE SQL statement, and every outcome of a worker is
// guarded by the lease it got from its claim:
//
//   state    event                     who may cause it                    SQL guard
//   -------  ------------------------  ----------------------------------  ---------------------------------------------
//   pending  claim → sending           any worker (a fresh random lease)   status = 'pending' AND next_attempt_at <= now()
//   sending  claim → sending           any worker, once the lease ran out  status = 'sending' AND locked_until < now()
//            (the old lease is dead)                                       (FOR UPDATE SKIP LOCKED, both claims)
//   sending  renew (stays sending)     the lease holder, every lease/3     id AND status = 'sending' AND lease = ?
//   sending  markDelivered → delivered the lease holder                    id AND status = 'sending' AND lease = ?
//   sending  retryLater → pending      the lease holder (attempt spent)    id AND status = 'sending' AND lease = ?
//   sending  release → pending         the lease holder (not an attempt)   id AND status = 'sending' AND lease = ?
//   sending  fail → failed             the lease holder                    id AND status = 'sending' AND lease = ?
//   any but  bounce → pending|failed   the XMPP server's stanza error      deliveries.ts bounce(): its own guard, on
//   failed                             (RFC 6120 §8.3), from outside       who sent the error (docs/design.md §Who speaks
//                                                                          for a delivery)
//   outbound a delivery report fails   a DSN to the delivery's VERP        messages.ts accept(): the unguessable VERP
//   not      it → failed               address, from outside               token named the delivery (invariant 7)
//   failed
//   any      `queue retry ID` → pending the administrator (CLI)            none, on purpose: an admin re-drives a row
//                                                                          whatever its state; a worker still holding
//                                                                          it then changes nothing (its lease is gone)
//
// An outcome whose lease was lost (it ran out and another worker claimed the row, or the row left `sending`
// from outside) changes no row: each transition returns how many rows it changed, and the caller logs a
// shortfall at warn instead of throwing. A lease is `randomBytes(16)`: no worker can name another's.
import { randomBytes } from "node:crypto";
import type { Knex } from "knex";
import { sanitizeText } from "../core/sanitize.ts";

/** `held`: spam waiting for its user's release (docs/design.md §Spam); no worker claims it. */
export type DeliveryStatus = "pending" | "sending" | "delivered" | "failed" | "held";

/** A claimed delivery's own columns, from the claim's `d` (claimSql). */
export const CLAIM_COLUMNS = `d.id, d.message_id AS "messageId", d.recipient, d.jid, d.stanza_id AS "stanzaId",
  d.attempts, d.created_at AS "createdAt", d.origin_stanza_id AS "originStanzaId", d.delay_notified AS "delayNotified",
  d.receipt_requested AS "receiptRequested", d.kind, d.lease, d.addressed_to AS "addressedTo"`;

/** A fresh lease token: 128 random bits. */
export const newLease = (): string => randomBytes(16).toString("hex");

/**
 * Lease up to `limit` due deliveries of one direction, oldest first, and select from them. A row is due
 * when pending and its time has come, or when a worker's lease ran out (it crashed, lost the database, or
 * stopped renewing). Bindings: direction, limit, worker, lease token (newLease), lease seconds.
 */
export const claimSql = (select: string, join: string) => `
  WITH due AS (
    SELECT id FROM deliveries
    WHERE direction = ?
      AND ((status = 'pending' AND next_attempt_at <= now()) OR (status = 'sending' AND locked_until < now()))
      -- A mailbox whose user paused delivery keeps its mail waiting, in order.
      AND NOT EXISTS (SELECT 1 FROM mailboxes mb
                      WHERE deliveries.direction = 'inbound' AND deliveries.kind = 'mail'
                        AND lower(mb.address) = lower(deliveries.recipient) AND mb.paused)
    ORDER BY id
    LIMIT ?
    FOR UPDATE SKIP LOCKED
  ), d AS (
    UPDATE deliveries
    SET status = 'sending', attempts = deliveries.attempts + 1, locked_by = ?, lease = ?, updated_at = now(),
        locked_until = now() + make_interval(secs => ?)
    FROM due WHERE deliveries.id = due.id
    RETURNING deliveries.*
  )
  SELECT ${select} FROM d ${join} ORDER BY d.id`;

/** The bindings of claimSql, with a fresh lease. */
export const claimBindings = (direction: "inbound" | "outbound", limit: number, worker: string, leaseSeconds: number) =>
  [direction, limit, worker, newLease(), leaseSeconds];

/** The guarded outcomes: each one statement, each changing only rows still held under `lease`. */
export function createDeliveryStates(knex: Knex) {
  const reason = (text: string) => sanitizeText(text).slice(0, 2000);
  const held = "id = ANY(?::bigint[]) AND status = 'sending' AND lease = ?";
  // RETURNING, not rowCount: the embedded PGlite client reports changed rows differently.
  const count = async (sql: string, bindings: unknown[]): Promise<number> =>
    (await knex.raw<{ rows: unknown[] }>(`${sql} RETURNING 1`, bindings as Knex.RawBinding[])).rows.length;
  return {
    /** Keep the rows `lease` still holds for `seconds` more; resolves with the ids it still holds. */
    async renew(lease: string, ids: number[], seconds: number): Promise<number[]> {
      if (ids.length === 0) return [];
      const { rows } = await knex.raw<{ rows: { id: string | number }[] }>(
        `UPDATE deliveries SET locked_until = now() + make_interval(secs => ?) WHERE ${held} RETURNING id`,
        [seconds, ids, lease]);
      return rows.map((r) => Number(r.id));
    },

    /** sending → delivered, for every row of `ids` still held under `lease` (one statement for a group). */
    async markDelivered(lease: string, ids: number[]): Promise<number> {
      if (ids.length === 0) return 0;
      return count(`UPDATE deliveries SET status = 'delivered', delivered_at = now(), locked_until = NULL, lease = NULL,
        last_error = NULL, updated_at = now() WHERE ${held}`, [ids, lease]);
    },

    /** sending → pending untouched (the link went down before they were proven): not an attempt. */
    async release(lease: string, ids: number[]): Promise<number> {
      if (ids.length === 0) return 0;
      return count(`UPDATE deliveries SET status = 'pending', attempts = greatest(attempts - 1, 0), locked_until = NULL,
        locked_by = NULL, lease = NULL, updated_at = now() WHERE ${held}`, [ids, lease]);
    },

    /** sending → pending in `seconds` (a temporary failure); `notified`: the user was told of the delay. */
    async retryLater(lease: string, id: number, seconds: number, why: string, notified: boolean): Promise<number> {
      return count(`UPDATE deliveries SET status = 'pending', next_attempt_at = now() + make_interval(secs => ?),
        last_error = ?, locked_until = NULL, locked_by = NULL, lease = NULL, delay_notified = ?, updated_at = now()
        WHERE ${held}`, [seconds, reason(why), notified, [id], lease]);
    },

    /** sending → failed, with the reason (kept for `queue --failed`). */
    async fail(lease: string, id: number, why: string): Promise<number> {
      return count(`UPDATE deliveries SET status = 'failed', last_error = ?, locked_until = NULL, lease = NULL,
        updated_at = now() WHERE ${held}`, [reason(why), [id], lease]);
    },
  };
}

export type DeliveryStates = ReturnType<typeof createDeliveryStates>;
