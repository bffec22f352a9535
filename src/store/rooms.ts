// The `rooms` table (docs/design.md §Rooms with an address): an address of MAIL_DOMAINS → a XEP-0045 room.
import type { Knex } from "knex";
import type { BareJid, MailAddress } from "../core/types.ts";

export interface RoomRecord { address: MailAddress; jid: BareJid; enabled: boolean; createdAt: Date }

interface Row { address: string; room_jid: string; enabled: boolean; created_at: Date }
const toRecord = (r: Row): RoomRecord => ({ address: r.address as MailAddress, jid: r.room_jid as BareJid, enabled: r.enabled, createdAt: r.created_at });

export function createRoomStore(knex: Knex) {
  return {
    /** compared case-insensitively, as mailboxes are */
    async find(address: string): Promise<RoomRecord | undefined> {
      const row = await knex<Row>("rooms").whereRaw("lower(address) = lower(?)", [address]).first();
      return row && toRecord(row);
    },
    /** The enabled room addresses of a room JID: what it may send from (the room's address). */
    async ofJid(jid: string): Promise<RoomRecord[]> {
      return (await knex<Row>("rooms").whereRaw("lower(room_jid) = lower(?)", [jid]).where({ enabled: true })
        .orderBy([{ column: "created_at" }, { column: "address" }])).map(toRecord);
    },
    async list(): Promise<RoomRecord[]> {
      return (await knex<Row>("rooms").orderBy("address")).map(toRecord);
    },
    /** Insert, or re-point an address at another room and enable it; refused when a mailbox has the address. */
    async upsert(address: MailAddress, jid: BareJid): Promise<"added" | "updated" | "mailbox"> {
      return knex.transaction(async (trx) => {
        if (await trx("mailboxes").whereRaw("lower(address) = lower(?)", [address]).first()) return "mailbox";
        const updated = await trx("rooms").whereRaw("lower(address) = lower(?)", [address]).update({ room_jid: jid, enabled: true });
        if (updated > 0) return "updated";
        await trx("rooms").insert({ address, room_jid: jid, enabled: true });
        return "added";
      });
    },
    async remove(address: string): Promise<boolean> {
      return (await knex("rooms").whereRaw("lower(address) = lower(?)", [address]).delete()) > 0;
    },
    async setEnabled(address: string, enabled: boolean): Promise<boolean> {
      return (await knex("rooms").whereRaw("lower(address) = lower(?)", [address]).update({ enabled })) > 0;
    },
  };
}

export type RoomStore = ReturnType<typeof createRoomStore>;
