// The contract's `mailboxes` table. Read on every RCPT so that SQL changes apply to the next transaction.
import type { Knex } from "knex";
import type { BareJid, MailAddress, Mailbox } from "../core/types.ts";

interface Row { address: string; jid: string; enabled: boolean; created_at: Date; display_name: string | null; collapse_quotes: boolean;
  hold_spam?: boolean; blocked?: (string | number | bigint)[] }

export interface MailboxRecord extends Mailbox { createdAt: Date; displayName: string | null; collapseQuotes: boolean;
  /** only from `find` (the RCPT lookup): the envelope senders its user blocked (core/sender-hash.ts),
   * and whether spam is held */
  blocked?: Float64Array; holdSpam?: boolean }

/** Per-mailbox settings that shape the chat message; read with each claim (deliveries.ts), so a change applies to the next delivery. */
export interface MailboxSettings { collapseQuotes: boolean; showHeaders: boolean }

const toRecord = (r: Row): MailboxRecord => ({
  address: r.address as MailAddress,
  jid: r.jid as BareJid,
  enabled: r.enabled,
  createdAt: r.created_at,
  displayName: r.display_name ?? null,
  collapseQuotes: r.collapse_quotes,
  // bigint arrives as text (node-postgres) or a bigint (PGlite); 48 bits fit a double exactly.
  ...(r.blocked ? { blocked: Float64Array.from(r.blocked, Number) } : {}),
  ...(r.hold_spam === undefined ? {} : { holdSpam: r.hold_spam }),
});

const BLOCKED = "array(SELECT b.sender_hash FROM blocked_senders b WHERE b.mailbox = lower(mailboxes.address)) AS blocked";

export function createMailboxStore(knex: Knex) {
  return {
    /** The mailbox for an address, compared case-insensitively (docs/design.md §Contract, Data), with the
     * senders its user blocked (docs/design.md §Spam: refused at RCPT from what this one read gives). */
    async find(address: string): Promise<MailboxRecord | undefined> {
      const row = await knex<Row>("mailboxes").whereRaw("lower(address) = lower(?)", [address])
        .first("*", knex.raw(BLOCKED));
      return row && toRecord(row);
    },
    /** The rows of several addresses at once, compared case-insensitively: one RCPT's candidates
     * (core/recipients.ts), each with the senders its user blocked, as `find`. */
    async findAny(addresses: string[]): Promise<MailboxRecord[]> {
      return (await knex<Row>("mailboxes").whereRaw("lower(address) = ANY(?)", [addresses.map((a) => a.toLowerCase())])
        .select("*", knex.raw(BLOCKED))).map(toRecord);
    },
    /** The enabled mailboxes a JID owns, oldest first (invariant 5: only these may send). */
    async ownedBy(jid: string): Promise<MailboxRecord[]> {
      return (await knex<Row>("mailboxes").whereRaw("lower(jid) = lower(?)", [jid]).where({ enabled: true })
        .orderBy([{ column: "created_at" }, { column: "address" }])).map(toRecord);
    },
    async list(): Promise<MailboxRecord[]> {
      return (await knex<Row>("mailboxes").orderBy("address")).map(toRecord);
    },
    /** Insert, or re-point an existing address (any case) at a new JID and enable it. */
    async upsert(address: MailAddress, jid: BareJid): Promise<"added" | "updated"> {
      return knex.transaction(async (trx) => {
        const updated = await trx("mailboxes").whereRaw("lower(address) = lower(?)", [address])
          .update({ jid, enabled: true });
        if (updated > 0) return "updated";
        await trx("mailboxes").insert({ address, jid, enabled: true });
        return "added";
      });
    },
    async remove(address: string): Promise<boolean> {
      return (await knex("mailboxes").whereRaw("lower(address) = lower(?)", [address]).delete()) > 0;
    },
    async setEnabled(address: string, enabled: boolean): Promise<boolean> {
      return (await knex("mailboxes").whereRaw("lower(address) = lower(?)", [address]).update({ enabled })) > 0;
    },
  };
}

export type MailboxStore = ReturnType<typeof createMailboxStore>;
