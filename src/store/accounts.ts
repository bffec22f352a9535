// SQL behind the gateway's own services: self-service mailboxes, settings, names, status.
import type { Knex } from "knex";

export interface UserSettings { paused: boolean; showHeaders: boolean; collapseQuotes: boolean }

export function createAccountStore(knex: Knex) {
  const lowerJid = (jid: string) => knex.raw("lower(split_part(jid, '/', 1)) = lower(?)", [jid]);
  return {
    /**
     * Give `address` to `jid` as a self-service mailbox: a new row, or the same JID's earlier self-service
     * row enabled again. "taken" when any other row holds the address (any case).
     */
    async claim(address: string, jid: string): Promise<"created" | "enabled" | "taken"> {
      return knex.transaction(async (trx) => {
        const row = await trx("mailboxes").whereRaw("lower(address) = lower(?)", [address]).forUpdate()
          .first<{ jid: string; self_service: boolean } | undefined>("jid", "self_service");
        if (!row) {
          await trx("mailboxes").insert({ address, jid, enabled: true, self_service: true });
          return "created";
        }
        if (row.self_service && row.jid.toLowerCase() === jid.toLowerCase()) {
          await trx("mailboxes").whereRaw("lower(address) = lower(?)", [address]).update({ enabled: true });
          return "enabled";
        }
        return "taken";
      });
    },
    /** XEP-0077 remove: disable the self-service mailboxes of `jid` (admin-made ones stay as they are). */
    async disableSelfService(jid: string): Promise<number> {
      return knex("mailboxes").whereRaw("lower(jid) = lower(?)", [jid]).where({ self_service: true, enabled: true })
        .update({ enabled: false });
    },
    async settings(address: string): Promise<UserSettings | undefined> {
      return knex("mailboxes").whereRaw("lower(address) = lower(?)", [address])
        .first<UserSettings | undefined>("paused", "show_headers AS showHeaders", "collapse_quotes AS collapseQuotes");
    },
    async setSettings(address: string, patch: Partial<UserSettings>): Promise<void> {
      await knex("mailboxes").whereRaw("lower(address) = lower(?)", [address]).update({
        ...(patch.paused === undefined ? {} : { paused: patch.paused }),
        ...(patch.showHeaders === undefined ? {} : { show_headers: patch.showHeaders }),
        ...(patch.collapseQuotes === undefined ? {} : { collapse_quotes: patch.collapseQuotes }),
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
