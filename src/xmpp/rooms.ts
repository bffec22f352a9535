// The gateway's occupants in conference rooms (docs/design.md §Rooms with an address): a contact joins a
// room to post a mail there, stays through a quiet period, and while any of ours is in a room we read what
// its occupants are (affiliation, role) and the answers members give to our posts.
import type { Element } from "@xmpp/component";
import type { IncomingChat } from "../core/outbound.ts";
import type { ChatMessage } from "../core/types.ts";
import type { Logger } from "../log.ts";
import { joinPresence, leavePresence, readMucPresence, roomFile, roomMessage, roomStanzaId } from "./room-stanzas.ts";
import { readChat } from "./stanzas.ts";

export interface RoomOccupantsConfig {
  /** the resource of every contact's full JID (the occupant's real JID) */
  resource: string;
  /** an occupant leaves after this long without a mail to post */
  quietMs: number;
  joinTimeoutMs: number;
  /** occupants of ours in one room, and in all; past either the one quiet longest leaves */
  perRoom: number;
  total: number;
}

export interface RoomOccupantsDeps {
  send(stanza: Element): Promise<void>;
  /** disco#info of the room (XEP-0030): rejects with the error when the room does not exist */
  discoInfo(room: string, from: string, timeoutMs: number): Promise<Element>;
  log: Logger;
}

/** Why an occupant could not be there: `permanent` when the room's own rules refuse it. */
export class RoomRefusal extends Error {
  readonly permanent: boolean;
  constructor(message: string, permanent: boolean) {
    super(message);
    this.permanent = permanent;
  }
}

/** §7.2.6–§7.2.10: what a refused join means, in words. */
const REFUSALS: Record<string, [string, boolean]> = {
  "registration-required": ["the room is members-only and the gateway's contacts are not members", true],
  "forbidden": ["the room bans the gateway's contacts", true],
  "not-authorized": ["the room needs a password", true],
  "item-not-found": ["the room does not exist", true],
  "not-allowed": ["the room may not be created by the gateway", true],
  "service-unavailable": ["the room is full", false],
};

interface Occupant { contact: string; room: string; nick: string; real: string; joined: Promise<void>; settle?(error?: Error): void; timer?: NodeJS.Timeout; usedAt: number }
interface Member { affiliation: string | null; role: string | null }
/** What a member's message to one of our occupants means. */
export type RoomAnswer = { chat: IncomingChat } | { refuse: string } | null;

const NS_REPLY = "urn:xmpp:reply:0";
const REMEMBERED = 10_000;

export function createRoomOccupants(config: RoomOccupantsConfig, deps: RoomOccupantsDeps) {
  const occupants = new Map<string, Occupant>();
  const members = new Map<string, Map<string, Member>>();
  /** our posts by their id and the room's stanza-id: which contact posted them (XEP-0461 replies name them) */
  const posted = new Map<string, { contact: string; room: string; id: string }>();
  const answered = new Set<string>();
  const keyOf = (contact: string, room: string) => `${contact.toLowerCase()}\n${room.toLowerCase()}`;
  const remember = <K, V>(map: Map<K, V> | Set<K>, key: K, value?: V) => {
    if (map instanceof Set) map.add(key); else map.set(key, value!);
    if (map.size > REMEMBERED) map.delete(map.keys().next().value!);
  };

  function leave(o: Occupant): void {
    clearTimeout(o.timer);
    occupants.delete(keyOf(o.contact, o.room));
    void deps.send(leavePresence(o.real, `${o.room}/${o.nick}`)).catch(() => undefined);
    if (![...occupants.values()].some((x) => x.room === o.room)) members.delete(o.room);
  }
  function touch(o: Occupant): void {
    o.usedAt = Date.now();
    clearTimeout(o.timer);
    o.timer = setTimeout(() => leave(o), config.quietMs);
    o.timer.unref?.();
  }
  /** Room for one more: the occupant quiet longest leaves, in the room and overall. */
  function makeRoom(room: string): void {
    for (const [scope, limit] of [[(o: Occupant) => o.room === room, config.perRoom], [() => true, config.total]] as const) {
      const inScope = [...occupants.values()].filter(scope);
      if (inScope.length >= limit) leave(inScope.sort((a, b) => a.usedAt - b.usedAt)[0]!);
    }
  }

  async function join(contact: string, room: string, name: string): Promise<Occupant> {
    const key = keyOf(contact, room);
    const existing = occupants.get(key);
    if (existing) {
      await existing.joined;
      return existing;
    }
    const real = `${contact}/${config.resource}`;
    try {
      await deps.discoInfo(room, real, config.joinTimeoutMs);
    } catch (err) {
      const condition = (err as { condition?: string }).condition;
      if (condition && REFUSALS[condition]) throw new RoomRefusal(`${room}: ${REFUSALS[condition][0]}`, REFUSALS[condition][1]);
      throw new RoomRefusal(`${room} did not answer: ${(err as Error).message}`, false);
    }
    makeRoom(room);
    // §7.2.9: a nick already taken is answered `conflict`; the next one gets a number.
    for (let attempt = 1; attempt <= 3; attempt++) {
      const nick = attempt === 1 ? name : `${name} ${attempt}`;
      const o: Occupant = { contact, room: room.toLowerCase(), nick, real, joined: Promise.resolve(), usedAt: Date.now() };
      o.joined = new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => o.settle?.(new RoomRefusal(`${room} did not let us in within ${config.joinTimeoutMs} ms`, false)), config.joinTimeoutMs);
        o.settle = (error) => { clearTimeout(timer); delete o.settle; if (error) reject(error); else resolve(); };
      });
      occupants.set(key, o);
      await deps.send(joinPresence(real, `${room}/${nick}`));
      try {
        await o.joined;
        touch(o);
        return o;
      } catch (err) {
        occupants.delete(key);
        if (!(err instanceof RoomRefusal) || err.message !== "conflict") throw err;
      }
    }
    throw new RoomRefusal(`${room}: the names for this sender are taken`, false);
  }

  return {
    /** Join for this mail (prepare step): resolves once the occupant is in and may speak. */
    async enter(contact: string, room: string, name: string): Promise<void> {
      const o = await join(contact, room, name);
      const me = members.get(o.room)?.get(o.nick);
      // §8.4: in a moderated room a visitor may not speak; the room's own rules decide, not us.
      if (me?.role === "visitor") {
        leave(o);
        throw new RoomRefusal(`${room} is moderated and gives the gateway's contacts no voice`, true);
      }
    },
    /** Post a mail (and its files) as the occupant that joined for it (enter first). */
    async post(message: ChatMessage): Promise<void> {
      const o = occupants.get(keyOf(message.from, message.to));
      if (!o) throw new Error(`not in ${message.to}`);
      touch(o);
      remember(posted, message.id, { contact: o.contact, room: o.room, id: message.id });
      await deps.send(roomMessage(message, o.real, message.to));
      for (const file of message.files ?? []) await deps.send(roomFile(file, o.real, message.to));
    },
    /** Presence from a room to one of our occupants; false when it is none of ours (the gateway's own then). */
    onPresence(stanza: Element): boolean {
      const p = readMucPresence(stanza);
      if (!p) return false;
      const ours = [...occupants.values()].find((o) => o.room === p.room && String(stanza.attrs.to ?? "").toLowerCase() === o.real.toLowerCase());
      if (!ours) return members.has(p.room);
      if (p.error) {
        if (p.nick === ours.nick) ours.settle?.(p.error === "conflict" ? new RoomRefusal("conflict", false)
          : new RoomRefusal(`${p.room}: ${REFUSALS[p.error]?.[0] ?? p.error}`, REFUSALS[p.error]?.[1] ?? false));
        return true;
      }
      const roster = members.get(p.room) ?? new Map<string, Member>();
      members.set(p.room, roster);
      if (p.unavailable) roster.delete(p.nick); else roster.set(p.nick, { affiliation: p.affiliation, role: p.role });
      if (p.self || p.nick === ours.nick) {
        if (p.unavailable) { clearTimeout(ours.timer); occupants.delete(keyOf(ours.contact, ours.room)); } // kicked, or the room went away
        else ours.settle?.();
      }
      return true;
    },
    /** Is this stanza from a room one of ours is in (a groupchat copy, a private message, a reflection)? */
    knows: (from: string) => members.has(from.split("/")[0]!.toLowerCase()) || [...occupants.values()].some((o) => o.room === from.split("/")[0]!.toLowerCase()),
    /**
     * A message from room@service/nick to one of our occupants. A member's XEP-0461 reply to one of our posts
     * (groupchat) or private message (chat) becomes chat for the outgoing side, from the room; anyone the
     * room does not make a member is refused (§5.2: owner, admin, member); everything else is room talk.
     */
    onMessage(stanza: Element): RoomAnswer {
      const from = String(stanza.attrs.from ?? "");
      const room = from.split("/")[0]!.toLowerCase();
      const nick = from.slice(room.length + 1);
      const to = String(stanza.attrs.to ?? "").toLowerCase();
      const receiver = [...occupants.values()].find((o) => o.room === room && o.real.toLowerCase() === to);
      const groupchat = stanza.attrs.type === "groupchat";
      if (groupchat) {
        // Our own post reflected (§7.4): remember the room's stanza-id that replies will name.
        const ownId = stanza.attrs.id && posted.get(stanza.attrs.id);
        const sid = roomStanzaId(stanza, room);
        if (ownId && sid && ownId.room === room) remember(posted, sid, ownId);
      }
      if (!nick || stanza.getChildText("body") === null) return null;
      const replyTo = stanza.getChild("reply", NS_REPLY)?.attrs.id;
      const target = replyTo ? posted.get(replyTo) : undefined;
      let contact: string | undefined;
      if (groupchat) {
        if (!target || target.room !== room) return null;
        // Every occupant of ours gets a copy: the first one read answers.
        const seen = `${room}\n${nick}\n${stanza.attrs.id ?? ""}\n${replyTo}`;
        if (answered.has(seen)) return null;
        remember(answered, seen);
        contact = target.contact;
      } else {
        if (!receiver) return null;
        contact = receiver.contact;
      }
      if ([...occupants.values()].some((o) => o.room === room && o.nick === nick)) return null;
      const member = members.get(room)?.get(nick);
      if (!member || !["owner", "admin", "member"].includes(member.affiliation ?? "") || member.role === "visitor") {
        return { refuse: "Only members of this room may answer mail through it; nothing was sent. Ask the room's owners for membership." };
      }
      const chat = readChat(stanza);
      return { chat: { ...chat, from, to: contact, replyTo: target?.id ?? null, receiptRequested: false,
        nick: member ? `${nick}` : null, subject: groupchat ? null : chat.subject } };
    },
    /** The link is new: the server forgot our occupants (XEP-0114 has no session to resume). */
    reset(): void {
      for (const o of occupants.values()) { clearTimeout(o.timer); o.settle?.(new RoomRefusal("the link was reconnected", false)); }
      occupants.clear();
      members.clear();
    },
    /** Leave every room (stopping). */
    async stop(): Promise<void> {
      for (const o of [...occupants.values()]) leave(o);
    },
  };
}

export type RoomOccupants = ReturnType<typeof createRoomOccupants>;
