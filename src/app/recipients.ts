// The composition root (docs/design.md §Rooms), its RCPT part: which recipient an address is — a bounce
// address, a room, a mailbox (exact, subaddress, role, catch-all) — remembered while the database notifies.
import type { Config } from "../config.ts";
import { readBounceAddress } from "../core/verp.ts";
import { recipientCandidates, resolveRecipient } from "../core/recipients.ts";
import type { MailAddress, Recipient } from "../core/types.ts";
import { createMailboxCache } from "../store/mailbox-cache.ts";
import type { MailboxStore } from "../store/mailboxes.ts";
import type { RoomStore } from "../store/rooms.ts";
import type { ThreadStore } from "../store/threads.ts";

export interface RecipientsDeps { mailboxes: MailboxStore; rooms: RoomStore; threads: ThreadStore; heard(): Promise<void> }

export function createRecipients(config: Config, deps: RecipientsDeps) {
  // RCPT lookups remembered while the database notifies changes (store/mailbox-cache.ts).
  // Each answer is the whole resolution of one address: a room's own address, else exact, subaddress, role,
  // catch-all (core/recipients.ts). A mailbox wins over a room of the same address (store/rooms.ts refuses
  // to make one), so `rooms` is read only when no mailbox has the exact address: one query for a mailbox.
  const rules = { delimiters: config.recipientDelimiters, mailDomains: config.mailDomains, adminJids: config.adminJids };
  const recipients = createMailboxCache({ max: 10_000, ttlMs: 60_000, proofTimeoutMs: 1000 }, { heard: () => deps.heard(), now: Date.now,
    find: async (a): Promise<Recipient | undefined> => {
      const rows = await deps.mailboxes.findAny(recipientCandidates(a, rules.delimiters));
      const room = rows.some((r) => r.address.toLowerCase() === a.toLowerCase()) ? undefined : await deps.rooms.find(a);
      if (room) return { address: room.address, jid: room.jid, enabled: room.enabled, room: true };
      return resolveRecipient(a as MailAddress, rows, rules);
    } });
  return {
    hear: recipients.hear,
    async find(address: string): Promise<Recipient | undefined> {
      const token = readBounceAddress(address as MailAddress);
      // The bounce form first (core/verp.ts); then the mailbox, from memory (store/mailbox-cache.ts), with
      // the address as this RCPT spelled it when it reached the mailbox by another.
      if (!token) return recipients.find(address).then((m) => m?.addressedTo ? { ...m, addressedTo: address as MailAddress } : m);
      const found = await deps.threads.bounceTarget(token);
      return found && { address: found.mailbox as MailAddress, jid: found.target.userJid.split("/")[0] as Recipient["jid"],
        enabled: true, bounceOf: found.target };
    },
  };
}
