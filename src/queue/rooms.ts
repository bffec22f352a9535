// Preparing mail for a conference room (docs/design.md §Rooms with an address): the same chat message as
// for a mailbox, posted by an occupant standing for the sender, who joins the room first. A room whose own
// rules keep the occupant out fails the delivery with the reason; a room that does not answer, later.
import { jidToAddress } from "../core/addresses.ts";
import { sanitizeLine } from "../core/sanitize.ts";
import type { ChatMessage } from "../core/types.ts";
import type { Claimed, Prepared } from "./worker.ts";

export interface RoomEntry {
  enter(contact: string, room: string, nick: string): Promise<void>;
}

/** The occupant's nick: the sender's name, or address, marked as coming by mail; one bounded line. */
export function roomNick(name: string | null, address: string | null): string {
  const who = sanitizeLine(name ?? "") || sanitizeLine(address ?? "") || "someone";
  return `${who.slice(0, 48)} (mail)`;
}

export function createRoomPreparer(config: { componentDomain: string }, deps: RoomEntry) {
  return async <T extends Claimed>(prepared: Prepared<T, ChatMessage>[]): Promise<Prepared<T, ChatMessage>[]> => {
    const out: Prepared<T, ChatMessage>[] = [];
    for (const item of prepared) {
      if (!("message" in item)) {
        out.push(item);
        continue;
      }
      const { message } = item;
      try {
        await deps.enter(message.from, message.to, roomNick(message.nick, jidToAddress(message.from, config.componentDomain)));
        out.push({ delivery: item.delivery, message: { ...message, room: true } });
      } catch (err) {
        const why = `room ${message.to}: ${(err as Error).message}`;
        out.push((err as { permanent?: boolean }).permanent ? { delivery: item.delivery, error: why } : { delivery: item.delivery, retry: why });
      }
    }
    return out;
  };
}
