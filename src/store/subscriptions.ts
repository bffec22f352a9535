// RFC 6121 §3 subscription state between a user and one of our JIDs, as the gateway sees it. Rows exist
// only for JIDs that own a mailbox (docs/design.md §Budgets): anyone else is answered, never remembered.
import type { Knex } from "knex";

export interface SubscriptionState {
  /** the user receives our presence (they subscribed and we approved) */
  fromUser: boolean;
  /** we receive theirs (we subscribed and they approved) */
  toUser: boolean;
}

const NONE: SubscriptionState = { fromUser: false, toUser: false };

export function createSubscriptionStore(knex: Knex) {
  const key = (user: string, contact: string) => ({ user_jid: user.toLowerCase(), contact_jid: contact.toLowerCase() });
  return {
    async get(user: string, contact: string): Promise<SubscriptionState> {
      const row = await knex("subscriptions").where(key(user, contact))
        .first<{ fromUser: boolean; toUser: boolean } | undefined>("from_user AS fromUser", "to_user AS toUser");
      return row ?? NONE;
    },
    /** Records the change when `user` owns a mailbox (enabled or not); false when nothing was written. */
    async set(user: string, contact: string, patch: Partial<SubscriptionState>): Promise<boolean> {
      const values: [string, boolean][] = [
        ...(patch.fromUser === undefined ? [] : [["from_user", patch.fromUser] as [string, boolean]]),
        ...(patch.toUser === undefined ? [] : [["to_user", patch.toUser] as [string, boolean]]),
      ];
      const k = key(user, contact);
      const columns = ["user_jid", "contact_jid", ...values.map(([c]) => c)];
      const updates = [...values.map(([c]) => `${c} = EXCLUDED.${c}`), "updated_at = now()"];
      const { rows } = await knex.raw<{ rows: unknown[] }>(
        `INSERT INTO subscriptions (${columns.join(", ")}) SELECT ${columns.map(() => "?").join(", ")}
          WHERE EXISTS (SELECT 1 FROM mailboxes WHERE lower(jid) = ?)
          ON CONFLICT (user_jid, contact_jid) DO UPDATE SET ${updates.join(", ")} RETURNING 1`,
        [k.user_jid, k.contact_jid, ...values.map(([, v]) => v), k.user_jid]);
      return rows.length > 0;
    },
    /** True once per (user, contact) row: the first caller may ask the user back (RFC 6121 §3.1.3). */
    async askOnce(user: string, contact: string): Promise<boolean> {
      const { rows } = await knex.raw<{ rows: unknown[] }>(
        "UPDATE subscriptions SET asked_at = now() WHERE user_jid = ? AND contact_jid = ? AND asked_at IS NULL RETURNING 1",
        [key(user, contact).user_jid, key(user, contact).contact_jid]);
      return rows.length > 0;
    },
  };
}

export type SubscriptionStore = ReturnType<typeof createSubscriptionStore>;
