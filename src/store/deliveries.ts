// The delivery table is the queue: the inbound claim, bounces, the admin's re-drive and the counts. The
// transitions a worker makes under its lease are in delivery-states.ts (docs/design.md §Delivery state machine).
import type { Knex } from "knex";
import { sanitizeText } from "../core/sanitize.ts";
import { CLAIM_COLUMNS, claimBindings, claimSql, createDeliveryStates, type DeliveryStatus } from "./delivery-states.ts";
import type { MailboxSettings } from "./mailboxes.ts";
import { MESSAGE_COLUMNS, toStored, type MessageRow, type StoredMessage } from "./messages.ts";

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
  /** the claim's lease token: every outcome names it (delivery-states.ts) */
  lease: string;
}

export interface DeliveryRow extends ClaimedDelivery {
  status: DeliveryStatus;
  direction: string;
  nextAttemptAt: Date;
  lastError: string | null;
  deliveredAt: Date | null;
}

export { CLAIM_COLUMNS, claimSql, type DeliveryStatus };

export interface ClaimedWithMessage extends ClaimedDelivery {
  stored: StoredMessage | null;
  settings: MailboxSettings | null;
}

export function createDeliveryStore(knex: Knex) {
  const reason = (text: string) => sanitizeText(text).slice(0, 2000);
  return {
    ...createDeliveryStates(knex),

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
      ), claimBindings("inbound", limit, worker, leaseSeconds));
      return rows.map((r) => {
        const delivery = Object.fromEntries(Object.entries(r).filter(([k]) => !k.startsWith("m_") && k !== "collapseQuotes" && k !== "showHeaders"));
        const message = Object.fromEntries(MESSAGE_COLUMNS.map((c) => [c, r[`m_${c}`]])) as unknown as MessageRow;
        return { ...delivery as unknown as ClaimedDelivery,
          stored: message.id === null ? null : toStored(message),
          settings: r.collapseQuotes === null ? null
            : { collapseQuotes: r.collapseQuotes as boolean, showHeaders: r.showHeaders as boolean } };
      });
    },

    /**
     * The XMPP server answered one of our stanzas with an error (RFC 6120 §8.3). A permanent error fails
     * the delivery; a temporary one schedules a retry, or fails it once the delivery is older than `maxAgeSeconds`.
     */
    async bounce(stanzaId: string, permanent: boolean, why: string, retryInSeconds: number, maxAgeSeconds: number)
      : Promise<{ id: number; status: DeliveryStatus } | undefined> {
      const { rows } = await knex.raw<{ rows: { id: number; status: DeliveryStatus }[] }>(`
        UPDATE deliveries SET
          status = CASE WHEN ? OR created_at < now() - make_interval(secs => ?) THEN 'failed' ELSE 'pending' END,
          next_attempt_at = now() + make_interval(secs => ?),
          last_error = ?, locked_until = NULL, locked_by = NULL, delivered_at = NULL, updated_at = now()
        WHERE stanza_id = ? AND status <> 'failed'
        RETURNING id, status`, [permanent, maxAgeSeconds, retryInSeconds, reason(why), stanzaId]);
      return rows[0];
    },

    async list(statuses: DeliveryStatus[], limit = 100): Promise<DeliveryRow[]> {
      const { rows } = await knex.raw<{ rows: DeliveryRow[] }>(`
        SELECT ${CLAIM_COLUMNS}, d.status, d.direction, d.next_attempt_at AS "nextAttemptAt",
               d.last_error AS "lastError", d.delivered_at AS "deliveredAt"
        FROM deliveries d WHERE d.status = ANY(?) ORDER BY d.id LIMIT ?`, [statuses, limit]);
      return rows;
    },

    /**
     * Re-drive one delivery now, whatever its state (admin action: `queue retry ID`). Unguarded on purpose
     * (docs/design.md §Delivery state machine): a worker still holding the row loses its lease and changes nothing.
     */
    async retry(id: number): Promise<boolean> {
      return (await knex("deliveries").where({ id }).update({
        status: "pending", next_attempt_at: knex.fn.now(), locked_until: null, locked_by: null, lease: null,
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
