// SQL behind XEP-0356 roster items (docs/design.md §Roster and privileges): one row per (user, address) the
// gateway has dealt with, keys in lower case; and the per-mailbox switch `roster_names`.
import type { Knex } from "knex";
import type { ContactRecord, ContactState } from "../core/roster.ts";

export function createRosterStore(knex: Knex) {
  const key = (user: string, address: string) => ({ user_jid: user.toLowerCase(), address: address.toLowerCase() });
  return {
    async get(user: string, address: string): Promise<ContactRecord | null> {
      const row = await knex("roster_contacts").where(key(user, address)).first<{ state: ContactState; name: string | null } | undefined>("state", "name");
      return row ?? null;
    },
    async put(user: string, address: string, record: ContactRecord): Promise<void> {
      await knex("roster_contacts").insert({ ...key(user, address), state: record.state, name: record.name })
        .onConflict(["user_jid", "address"]).merge({ state: record.state, name: record.name, updated_at: knex.fn.now() });
    },
    /** Names go in the roster unless the user's first mailbox (the one "Mailbox settings" edits) turned it off. */
    async enabledFor(user: string): Promise<boolean> {
      const row = await knex("mailboxes").whereRaw("lower(jid) = lower(?)", [user]).where({ enabled: true })
        .orderBy([{ column: "created_at" }, { column: "address" }]).first<{ on: boolean } | undefined>("roster_names AS on");
      return row?.on ?? false;
    },
  };
}

export type RosterStore = ReturnType<typeof createRosterStore>;
