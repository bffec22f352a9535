// What is kept and for how long (docs/design.md §What is stored): a mail's content is cleared after
// RETENTION_DAYS, its threading data deleted after THREAD_DAYS, and a mailbox's mail on request. Every
// batch is one short transaction over at most `batch` mails, chosen with FOR UPDATE SKIP LOCKED, so
// several instances prune side by side and nothing waits behind the pruner for long.
import type { Knex } from "knex";

/** A batch's place in (received_at, id) order: the next batch starts after it. */
export interface Cursor { receivedAt: Date; id: number }

export interface BatchResult {
  /** mails looked at (the batch was full when this equals its size) */
  seen: number;
  /** mails whose content was cleared (expire) */
  cleared: number;
  /** message rows deleted */
  deleted: number;
  /** mails of the batch left alone: a delivery still waits for them */
  waiting: number;
  cursor: Cursor | null;
}

/** `waiting`: deliveries still waiting that were kept (or, with `waiting: true`, deleted). */
export interface PurgeResult { mails: number; deliveries: number; waiting: number }

/** A waiting delivery still needs its mail: pruning never touches such a mail. */
const WAITING = "status IN ('pending', 'sending')";
/** A lock the pruner cannot get at once is given up: its batch fails and runs again later. */
const LOCK_TIMEOUT = "SET LOCAL lock_timeout = '2s'";
/**
 * What a cleared mail keeps, for threading (store/threads.ts), replying to all and contact names
 * (store/accounts.ts): direction, received_at, size, subject, from_address, from_name, message_id,
 * references, the header lines of `parts` (From, To, Cc, Date: who the mail was between) without its
 * part list, and the delivered rows of inbound mail (their stanza ids, XEP-0461). Everything else is
 * emptied: the bytes, the text, the page and its link, the part list, uploads, report, envelope, verdicts.
 */
const CLEAR = `raw = '\\x'::bytea, body = '', page = NULL, attachments = '[]', uploads = '{}', report = NULL,
  parts = CASE WHEN parts IS NULL THEN NULL ELSE jsonb_set(parts, '{parts}', '[]'::jsonb) || '{"omitted": 0}'::jsonb END,
  web_token = NULL, authentication = NULL, list_id = NULL, remote_address = NULL, helo = NULL, mail_from = ''`;

export function createRetentionStore(knex: Knex) {
  /**
   * Lock the finished deliveries of `ids` and say which mails a waiting delivery still needs. Waiting rows
   * are read, not locked, so a claim never waits for the pruner; a finished row cannot become waiting
   * while it is locked (a `queue retry` waits, then finds it gone or its mail kept). Rows are found by
   * message and locked by primary key: no plan walks the queue's own index.
   */
  const busyOf = async (trx: Knex.Transaction, ids: number[]): Promise<Set<number>> => {
    type Row = { id: number; message_id: number; status: string };
    const waiting = (r: Row) => r.status === "pending" || r.status === "sending";
    const { rows } = await trx.raw<{ rows: Row[] }>("SELECT id, message_id, status FROM deliveries WHERE message_id = ANY(?::bigint[])", [ids]);
    const { rows: locked } = await trx.raw<{ rows: Row[] }>("SELECT id, message_id, status FROM deliveries WHERE id = ANY(?::bigint[]) ORDER BY id FOR UPDATE",
      [rows.filter((r) => !waiting(r)).map((r) => r.id)]);
    return new Set([...rows, ...locked].filter(waiting).map((r) => Number(r.message_id)));
  };

  /** One batch of mails older than `before` in one of the two sets, locked (SKIP LOCKED) in order. */
  const pick = async (trx: Knex.Transaction, pruned: boolean, before: Date, after: Cursor | null, batch: number) => {
    const { rows } = await trx.raw<{ rows: { id: number; received_at: Date }[] }>(`
      SELECT id, received_at FROM messages
      WHERE pruned_at IS ${pruned ? "NOT " : ""}NULL AND received_at < ?
        AND (received_at, id) > (?::timestamptz, ?::bigint)
      ORDER BY received_at, id LIMIT ? FOR UPDATE SKIP LOCKED`,
    [before, after?.receivedAt ?? new Date(0), after?.id ?? 0, batch]);
    const last = rows[rows.length - 1];
    return { ids: rows.map((r) => Number(r.id)), cursor: last ? { receivedAt: last.received_at, id: Number(last.id) } : after };
  };

  const deleteEmpty = async (trx: Knex.Transaction, ids: number[]): Promise<number> => (await trx.raw<{ rows: unknown[] }>(`
    DELETE FROM messages m WHERE m.id = ANY(?::bigint[])
      AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.message_id = m.id) RETURNING 1`, [ids])).rows.length;

  /** One batch of `pick` in its own transaction: `work` gets the mails no waiting delivery needs. */
  const inBatch = (pruned: boolean, before: Date, after: Cursor | null, batch: number,
    work: (trx: Knex.Transaction, ready: number[]) => Promise<{ cleared: number; deleted: number }>): Promise<BatchResult> =>
    knex.transaction(async (trx) => {
      await trx.raw(LOCK_TIMEOUT);
      const { ids, cursor } = await pick(trx, pruned, before, after, batch);
      if (ids.length === 0) return { seen: 0, cleared: 0, deleted: 0, waiting: 0, cursor };
      const busy = await busyOf(trx, ids);
      const done = await work(trx, ids.filter((id) => !busy.has(id)));
      return { seen: ids.length, ...done, waiting: busy.size, cursor };
    });

  /** The mails `select(after)` names, in id order, a chunk at a time, each in its own transaction with its mails locked. */
  const inChunks = async (select: (after: number) => Promise<number[]>, work: (trx: Knex.Transaction, ids: number[]) => Promise<void>) => {
    for (let after = 0; ;) {
      const ids = await select(after);
      if (ids.length === 0) return;
      after = ids[ids.length - 1]!;
      await knex.transaction(async (trx) => {
        await trx.raw(LOCK_TIMEOUT);
        await trx.raw("SELECT 1 FROM messages WHERE id = ANY(?::bigint[]) ORDER BY id FOR UPDATE", [ids]);
        await work(trx, ids);
      });
    }
  };

  return {
    /**
     * RETENTION_DAYS: the mails received before `before` whose deliveries are all finished lose their
     * content. Outgoing mail and inbound mail with no delivered row left go whole; of the rest, the
     * delivered rows of inbound mail stay (a late reply names their stanza id), every other delivery
     * row — failed ones, delivered reports — goes.
     */
    async expire(before: Date, after: Cursor | null, batch: number, now: Date): Promise<BatchResult> {
      return inBatch(false, before, after, batch, async (trx, ready) => {
        // Kept: the delivered rows through which a reply threads (every inbound kind but reports).
        await trx.raw(`DELETE FROM deliveries WHERE message_id = ANY(?::bigint[])
          AND NOT (direction = 'inbound' AND kind <> 'report' AND status = 'delivered')`, [ready]);
        const deleted = await deleteEmpty(trx, ready);
        const { rows } = await trx.raw<{ rows: unknown[] }>(`UPDATE messages SET ${CLEAR}, pruned_at = ?
          WHERE id = ANY(?::bigint[]) AND pruned_at IS NULL RETURNING 1`, [now, ready]);
        return { cleared: rows.length, deleted };
      });
    },

    /** THREAD_DAYS: cleared mails received before `before` go, with their delivered rows. */
    async forget(before: Date, after: Cursor | null, batch: number): Promise<BatchResult> {
      return inBatch(true, before, after, batch, async (trx, ready) => {
        const { rows } = await trx.raw<{ rows: unknown[] }>("DELETE FROM messages WHERE id = ANY(?::bigint[]) RETURNING 1", [ready]);
        return { cleared: 0, deleted: rows.length };
      });
    },

    /**
     * Delete the mail stored for `address` (lower-cased compare): its inbound delivery rows, its outgoing
     * mails, and every message no delivery row is left for. A mail that was also for another mailbox
     * stays, as that mailbox's. `jid`: only rows delivered to (or sent by) that bare JID. `waiting`:
     * deliveries still waiting go too (else they stay, and are counted). Batches of `batch` mails.
     */
    async purge(address: string, options: { jid?: string; waiting: boolean; batch: number }): Promise<PurgeResult> {
      const owner = options.jid ? "AND lower(split_part(d.jid, '/', 1)) = lower(?)" : "";
      const ownerBinding = options.jid ? [options.jid] : [];
      const finished = options.waiting ? "" : `AND NOT d.${WAITING}`;
      const countWaiting = async () => (await knex.raw<{ rows: { n: number }[] }>(`
        SELECT count(*)::int AS n FROM deliveries d JOIN messages m ON m.id = d.message_id
        WHERE d.${WAITING} ${owner} AND ((d.direction = 'inbound' AND lower(d.recipient) = lower(?))
          OR (d.direction = 'outbound' AND m.direction = 'outbound' AND lower(m.from_address) = lower(?)))`,
      [...ownerBinding, address, address])).rows[0]!.n;
      const out: PurgeResult = { mails: 0, deliveries: 0, waiting: options.waiting ? await countWaiting() : 0 };
      const ids = (rows: { id: number }[]) => rows.map((r) => Number(r.id));
      await inChunks(async (after) => ids((await knex.raw<{ rows: { id: number }[] }>(`
          SELECT DISTINCT d.message_id AS id FROM deliveries d
          WHERE d.direction = 'inbound' AND lower(d.recipient) = lower(?) ${owner} ${finished} AND d.message_id > ?
          ORDER BY 1 LIMIT ?`, [address, ...ownerBinding, after, options.batch])).rows),
      async (trx, chunk) => {
        out.deliveries += (await trx.raw<{ rows: unknown[] }>(`DELETE FROM deliveries d WHERE d.message_id = ANY(?::bigint[])
          AND d.direction = 'inbound' AND lower(d.recipient) = lower(?) ${owner} ${finished} RETURNING 1`,
        [chunk, address, ...ownerBinding])).rows.length;
        out.mails += await deleteEmpty(trx, chunk);
      });
      await inChunks(async (after) => ids((await knex.raw<{ rows: { id: number }[] }>(`
          SELECT m.id FROM messages m
          WHERE m.direction = 'outbound' AND lower(m.from_address) = lower(?) AND m.id > ?
            ${options.jid ? "AND EXISTS (SELECT 1 FROM deliveries d WHERE d.message_id = m.id " + owner + ")" : ""}
          ORDER BY m.id LIMIT ?`, [address, after, ...ownerBinding, options.batch])).rows),
      async (trx, chunk) => {
        const busy = options.waiting ? new Set<number>() : await busyOf(trx, chunk);
        const ready = chunk.filter((id) => !busy.has(id));
        out.deliveries += (await trx.raw<{ rows: unknown[] }>("DELETE FROM deliveries WHERE message_id = ANY(?::bigint[]) RETURNING 1", [ready])).rows.length;
        out.mails += (await trx.raw<{ rows: unknown[] }>("DELETE FROM messages WHERE id = ANY(?::bigint[]) RETURNING 1", [ready])).rows.length;
      });
      if (!options.waiting) out.waiting = await countWaiting();
      return out;
    },

    /** Every address the bare JID owns a mailbox for, enabled or not: whose mail a user may delete. */
    async addressesOf(jid: string): Promise<string[]> {
      return knex("mailboxes").whereRaw("lower(jid) = lower(?)", [jid]).orderBy("address").pluck("address");
    },

    /** Whether anything is stored or waiting for `address`, or a mailbox has it (for the CLI's answer). */
    async known(address: string): Promise<boolean> {
      const { rows } = await knex.raw<{ rows: { known: boolean }[] }>(`SELECT
        EXISTS (SELECT 1 FROM mailboxes WHERE lower(address) = lower(?))
        OR EXISTS (SELECT 1 FROM deliveries WHERE direction = 'inbound' AND lower(recipient) = lower(?))
        OR EXISTS (SELECT 1 FROM messages WHERE direction = 'outbound' AND lower(from_address) = lower(?)) AS known`,
      [address, address, address]);
      return rows[0]!.known;
    },
  };
}

export type RetentionStore = ReturnType<typeof createRetentionStore>;
