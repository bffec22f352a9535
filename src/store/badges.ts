// Presence badges (docs/design.md §Presence badges). `user_jid` is a lower-case bare JID.
import type { Knex } from "knex";
import type { BadgeStatus } from "../core/presence-status.ts";

export interface Badge { id: string; userJid: string; showMessage: boolean; status: BadgeStatus; message: string | null; since: Date }

const COLUMNS = ["id", "user_jid AS userJid", "show_message AS showMessage", "status", "message", "since"];

export function createBadgeStore(knex: Knex) {
  return {
    byId: (id: string) => knex("badges").where({ id }).first<Badge | undefined>(COLUMNS),
    byUser: (user: string) => knex("badges").where({ user_jid: user.toLowerCase() }).first<Badge | undefined>(COLUMNS),
    /** Every user with a badge, for probing them when the link comes online. */
    users: () => knex("badges").select<{ userJid: string; showMessage: boolean }[]>("user_jid AS userJid", "show_message AS showMessage"),
    /** A new badge under a new id (an earlier one of the user's is gone with its id). */
    async create(user: string, id: string, showMessage: boolean): Promise<Badge> {
      const [row] = await knex("badges")
        .insert({ id, user_jid: user.toLowerCase(), show_message: showMessage })
        .onConflict("user_jid").merge({ id, show_message: showMessage, status: "offline", message: null, since: knex.fn.now() })
        .returning<Badge[]>(COLUMNS);
      return row!;
    },
    async setShowMessage(user: string, showMessage: boolean): Promise<boolean> {
      return (await knex("badges").where({ user_jid: user.toLowerCase() }).update({ show_message: showMessage, ...(showMessage ? {} : { message: null }) })) > 0;
    },
    async remove(user: string): Promise<boolean> {
      return (await knex("badges").where({ user_jid: user.toLowerCase() }).delete()) > 0;
    },
    /** Writes only a change; `since` moves with it. */
    async setStatus(user: string, status: BadgeStatus, message: string | null): Promise<void> {
      await knex.raw(`UPDATE badges SET status = ?, message = ?, since = now()
        WHERE user_jid = ? AND (status IS DISTINCT FROM ? OR message IS DISTINCT FROM ?)`,
      [status, message, user.toLowerCase(), status, message]);
    },
  };
}

export type BadgeStore = ReturnType<typeof createBadgeStore>;
