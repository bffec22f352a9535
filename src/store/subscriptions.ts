// RFC 6121 §3 subscription state between a user and one of our JIDs, as the gateway sees it.
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
    async set(user: string, contact: string, patch: Partial<SubscriptionState>): Promise<void> {
      const values = {
        ...(patch.fromUser === undefined ? {} : { from_user: patch.fromUser }),
        ...(patch.toUser === undefined ? {} : { to_user: patch.toUser }),
      };
      await knex("subscriptions").insert({ ...key(user, contact), ...values })
        .onConflict(["user_jid", "contact_jid"]).merge({ ...values, updated_at: knex.fn.now() });
    },
  };
}

export type SubscriptionStore = ReturnType<typeof createSubscriptionStore>;
