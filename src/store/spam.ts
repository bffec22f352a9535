// SQL behind "this is spam", "block this sender" and held mail (docs/design.md §Spam). Every call
// names the mailboxes it acts for; the services pass only the ones the requesting user owns.
import type { Knex } from "knex";
import { senderHash } from "../core/sender-hash.ts";
import type { SpamVerdict } from "../core/types.ts";

/** At most this many blocked senders per mailbox: the list travels with every RCPT lookup (8 bytes each). */
export const BLOCKS_PER_MAILBOX = 1000;

export interface HeldMail { id: number; from: string; subject: string; receivedAt: Date; spam: SpamVerdict | null }

const lower = (list: string[]) => list.map((a) => a.toLowerCase());

export function createSpamStore(knex: Knex) {
  return {
    /**
     * Block `senders` (lower-cased) for each mailbox, remembered as `named`. "full" when a mailbox has
     * no room left for them (nothing is added to it then).
     */
    async block(mailboxes: string[], named: string, senders: string[]): Promise<"blocked" | "full"> {
      const wanted = [...new Set(lower(senders))];
      return knex.transaction(async (trx) => {
        for (const mailbox of lower(mailboxes)) {
          await trx.raw("SELECT pg_advisory_xact_lock(hashtext(?))", [`blocks:${mailbox}`]);
          const { rows: [row] } = await trx.raw<{ rows: { n: number }[] }>(
            "SELECT count(*)::int AS n FROM blocked_senders WHERE mailbox = ? AND NOT (sender = ANY(?))", [mailbox, wanted]);
          if ((row?.n ?? 0) + wanted.length > BLOCKS_PER_MAILBOX) return "full";
          await trx("blocked_senders").insert(wanted.map((sender) => ({ mailbox, sender, sender_hash: senderHash(sender), named: named.toLowerCase() })))
            .onConflict(["mailbox", "sender"]).merge(["named"]);
        }
        return "blocked";
      });
    },
    /** Unblock what was blocked as `address` or matches it as a sender; how many rows went. */
    async unblock(mailboxes: string[], address: string): Promise<number> {
      return knex("blocked_senders").whereIn("mailbox", lower(mailboxes))
        .where((q) => q.where({ named: address.toLowerCase() }).orWhere({ sender: address.toLowerCase() })).delete();
    },
    async blocked(mailboxes: string[]): Promise<{ mailbox: string; sender: string; named: string }[]> {
      return knex("blocked_senders").whereIn("mailbox", lower(mailboxes)).orderBy(["mailbox", "sender"])
        .limit(BLOCKS_PER_MAILBOX).select("mailbox", "sender", "named");
    },
    /**
     * The latest mail to one of `mailboxes` whose From: or envelope sender is `address`: its raw bytes
     * (for learning) and its envelope sender (blocked with the address).
     */
    async latestFrom(mailboxes: string[], address: string): Promise<{ id: number; raw: Buffer; mailFrom: string } | undefined> {
      const row = await knex("messages as m")
        .where("m.direction", "inbound")
        .whereRaw("(lower(m.from_address) = lower(?) OR lower(m.mail_from) = lower(?))", [address, address])
        .whereExists((q) => q.select(knex.raw("1")).from("deliveries as d").whereRaw("d.message_id = m.id")
          .whereRaw("lower(d.recipient) = ANY(?)", [lower(mailboxes)]))
        .orderBy("m.id", "desc").first<{ id: number; raw: Buffer; mail_from: string } | undefined>("m.id", "m.raw", "m.mail_from");
      return row && { id: Number(row.id), raw: row.raw, mailFrom: row.mail_from };
    },
    /** Held mail of one user (their bare JID), newest first. */
    async held(jid: string, limit = 20): Promise<{ rows: HeldMail[]; total: number }> {
      const where = (q: Knex.QueryBuilder) => q.where("d.status", "held").whereRaw("lower(split_part(d.jid, '/', 1)) = lower(?)", [jid]);
      const rows = await where(knex("deliveries as d").join("messages as m", "m.id", "d.message_id"))
        .orderBy("d.id", "desc").limit(limit)
        .select<HeldMail[]>("d.id", knex.raw("coalesce(m.from_address, m.mail_from) AS \"from\""), "m.subject", "m.received_at AS receivedAt", "m.spam");
      const [count] = await where(knex("deliveries as d")).count<{ n: string }[]>({ n: "*" });
      return { rows: rows.map((r) => ({ ...r, id: Number(r.id) })), total: Number(count?.n ?? 0) };
    },
    /** Release held deliveries of this user: the given ids, or all when null; how many. */
    async release(jid: string, ids: number[] | null): Promise<number> {
      const q = knex("deliveries").where({ status: "held", direction: "inbound" })
        .whereRaw("lower(split_part(jid, '/', 1)) = lower(?)", [jid]);
      if (ids) q.whereIn("id", ids);
      // pending again: the deliveries trigger wakes the workers (migration 000009).
      return q.update({ status: "pending", next_attempt_at: knex.fn.now(), updated_at: knex.fn.now() });
    },
    async holdSpam(address: string): Promise<boolean> {
      return Boolean((await knex("mailboxes").whereRaw("lower(address) = lower(?)", [address]).first<{ hold_spam: boolean } | undefined>("hold_spam"))?.hold_spam);
    },
    async setHoldSpam(address: string, hold: boolean): Promise<void> {
      await knex("mailboxes").whereRaw("lower(address) = lower(?)", [address]).update({ hold_spam: hold });
    },
  };
}

export type SpamStore = ReturnType<typeof createSpamStore>;
