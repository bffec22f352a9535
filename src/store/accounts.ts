// SQL behind the gateway's own services: self-service mailboxes, settings, names, status.
import type { Knex } from "knex";
import { addressSkeleton } from "../core/skeleton.ts";
import type { MailAddress } from "../core/types.ts";

const localOf = (address: string) => address.slice(0, address.lastIndexOf("@"));
const domainOf = (address: string) => address.slice(address.lastIndexOf("@") + 1);

export interface UserSettings { paused: boolean; showHeaders: boolean; collapseQuotes: boolean; displayName: string | null; rosterNames: boolean; holdSpam: boolean }

const FILL_BATCH = 500;

export function createAccountStore(knex: Knex) {
  /**
   * The skeleton of every row written without one (by SQL, the admin command or the CLI), in batches;
   * each row is computed once, after which a registration costs one index probe.
   */
  async function fillSkeletons(): Promise<void> {
    // In address order from where the last batch ended: each row is looked at once per call.
    for (let after = ""; ;) {
      const rows = await knex("mailboxes").whereNull("skeleton").where("address", ">", after).orderBy("address")
        .limit(FILL_BATCH).pluck<string[]>("address");
      if (rows.length === 0) return;
      const values = rows.map((a) => [a, addressSkeleton(localOf(a), domainOf(a))]);
      await knex.raw(`UPDATE mailboxes m SET skeleton = v.s FROM (VALUES ${values.map(() => "(?, ?)").join(", ")}) AS v(a, s)
        WHERE m.address = v.a AND m.skeleton IS NULL`, values.flat());
      if (rows.length < FILL_BATCH) return;
      after = rows[rows.length - 1]!;
    }
  }
  const lowerJid = (jid: string) => knex.raw("lower(split_part(jid, '/', 1)) = lower(?)", [jid]);
  return {
    /**
     * Give `address` to `jid` as a self-service mailbox: a new row, or the same JID's earlier self-service
     * row enabled again. "taken" when any other row holds the address (any case); `{ lookalike }` when
     * another address of the domain has the same skeleton (Unicode TR39 §4). Registrations of one skeleton
     * are serialised by an advisory lock, so two look-alikes asked at once cannot both be created.
     */
    async claim(address: MailAddress, jid: string): Promise<"created" | "enabled" | "taken" | { lookalike: string }> {
      await fillSkeletons();
      const skeleton = addressSkeleton(localOf(address), domainOf(address));
      return knex.transaction(async (trx) => {
        await trx.raw("SELECT pg_advisory_xact_lock(hashtext(?))", [`skeleton:${skeleton}`]);
        const row = await trx("mailboxes").whereRaw("lower(address) = lower(?)", [address]).forUpdate()
          .first<{ jid: string; self_service: boolean } | undefined>("jid", "self_service");
        if (row && !(row.self_service && row.jid.toLowerCase() === jid.toLowerCase())) return "taken";
        const alike = await trx("mailboxes").where({ skeleton }).whereRaw("lower(address) <> lower(?)", [address])
          .first<{ address: string } | undefined>("address");
        if (alike) return { lookalike: alike.address };
        if (!row) {
          await trx("mailboxes").insert({ address, jid, enabled: true, self_service: true, skeleton });
          return "created";
        }
        await trx("mailboxes").whereRaw("lower(address) = lower(?)", [address]).update({ enabled: true, skeleton });
        return "enabled";
      });
    },
    /** The self-service mailbox `jid` registered before (enabled or not), the oldest: an account holds one name. */
    async selfServiceOf(jid: string): Promise<MailAddress | null> {
      const row = await knex("mailboxes").whereRaw("lower(jid) = lower(?)", [jid]).where({ self_service: true })
        .orderBy([{ column: "created_at" }, { column: "address" }]).first<{ address: MailAddress } | undefined>("address");
      return row?.address ?? null;
    },
    /** XEP-0077 remove: disable the self-service mailboxes of `jid` (admin-made ones stay as they are). */
    async disableSelfService(jid: string): Promise<number> {
      return knex("mailboxes").whereRaw("lower(jid) = lower(?)", [jid]).where({ self_service: true, enabled: true })
        .update({ enabled: false });
    },
    async settings(address: string): Promise<UserSettings | undefined> {
      return knex("mailboxes").whereRaw("lower(address) = lower(?)", [address])
        .first<UserSettings | undefined>("paused", "show_headers AS showHeaders", "collapse_quotes AS collapseQuotes",
          "display_name AS displayName", "roster_names AS rosterNames", "hold_spam AS holdSpam");
    },
    async setSettings(address: string, patch: Partial<UserSettings>): Promise<void> {
      await knex("mailboxes").whereRaw("lower(address) = lower(?)", [address]).update({
        ...(patch.paused === undefined ? {} : { paused: patch.paused }),
        ...(patch.showHeaders === undefined ? {} : { show_headers: patch.showHeaders }),
        ...(patch.collapseQuotes === undefined ? {} : { collapse_quotes: patch.collapseQuotes }),
        ...(patch.displayName === undefined ? {} : { display_name: patch.displayName }),
        ...(patch.rosterNames === undefined ? {} : { roster_names: patch.rosterNames }),
        ...(patch.holdSpam === undefined ? {} : { hold_spam: patch.holdSpam }),
      });
      // Resuming makes waiting mail due at once: wake the workers as the deliveries trigger would.
      if (patch.paused === false) await knex.raw("SELECT pg_notify('passerelle_deliveries', '')");
    },
    /** The latest display name of `address` in mail delivered to `jid`: what that user has seen. */
    async contactName(jid: string, address: string): Promise<string | null> {
      const row = await knex("messages as m").join("deliveries as d", "d.message_id", "m.id")
        .where({ "m.direction": "inbound" }).whereNotNull("m.from_name")
        .whereRaw("lower(m.from_address) = lower(?)", [address])
        .whereRaw("lower(d.jid) = lower(?)", [jid])
        .orderBy("m.id", "desc").first<{ name: string } | undefined>("m.from_name AS name");
      return row?.name || null;
    },
    /** For the status command: what waits and what failed lately, for one user. */
    async status(jid: string): Promise<{ waitingIn: number; waitingOut: number; failures: { when: Date; recipient: string; direction: string; why: string }[] }> {
      const { rows: [counts] } = await knex.raw<{ rows: { waitingIn: number; waitingOut: number }[] }>(`
        SELECT count(*) FILTER (WHERE direction = 'inbound')::int AS "waitingIn",
               count(*) FILTER (WHERE direction = 'outbound')::int AS "waitingOut"
        FROM deliveries WHERE status IN ('pending', 'sending') AND lower(split_part(jid, '/', 1)) = lower(?)`, [jid]);
      const failures = await knex("deliveries").where({ status: "failed" }).where(lowerJid(jid))
        .orderBy("updated_at", "desc").limit(5)
        .select("updated_at AS when", "recipient", "direction", knex.raw("coalesce(last_error, '') AS why"));
      return { waitingIn: counts?.waitingIn ?? 0, waitingOut: counts?.waitingOut ?? 0, failures };
    },
    /** XEP-0184: the user's client acknowledged our chat message. */
    async receipt(jid: string, stanzaId: string): Promise<boolean> {
      return (await knex("deliveries").where({ stanza_id: stanzaId, direction: "inbound" }).whereNull("receipt_at")
        .where(lowerJid(jid)).update({ receipt_at: knex.fn.now() })) > 0;
    },
  };
}

export type AccountStore = ReturnType<typeof createAccountStore>;
