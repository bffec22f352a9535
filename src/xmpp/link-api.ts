// What the XEP-0114 link offers the rest of the gateway, and what it needs (xmpp/component.ts builds it).
import type { Logger } from "../log.ts";
import type { BareJid, ChatMessage } from "../core/types.ts";
import type { IncomingChat } from "../core/outbound.ts";
import type { LinkState } from "./link-state.ts";
import type { GatewayServices } from "./gateway.ts";
import type { CommandBudget } from "./commands.ts";
import type { ChatVerdict } from "./incoming.ts";
import type { UploadFile } from "./upload.ts";
import type { RoomOccupantsConfig } from "./rooms.ts";
import type { RosterItem } from "./privilege.ts";
import type { StanzaErrorInfo } from "./stanzas.ts";

export interface XmppConfig {
  service: string; domain: string; secret: string;
  /** The keep-alive's interval and ping timeout (XMPP_KEEPALIVE_SECONDS); default 30 s. */
  keepaliveMs?: number;
  /** XEP-0050 sessions and request rates (docs/design.md §Budgets); default DEFAULT_BUDGET */
  commands?: CommandBudget;
  /** What one party may send us (docs/design.md §Budgets); defaults below. */
  stanzas?: StanzaLimits;
  /** Our occupants in conference rooms (docs/design.md §Rooms with an address); defaults below. */
  rooms?: Omit<RoomOccupantsConfig, "resource">;
  /** Domains whose XEP-0356 announcements we trust (XMPP_SERVER_DOMAINS); default the component's parent domain. */
  serverDomains?: string[];
}

export const DEFAULT_ROOM_LIMITS: Omit<RoomOccupantsConfig, "resource"> = { quietMs: 600_000, joinTimeoutMs: 10_000, perRoom: 5, total: 200 };

export interface StanzaLimits {
  senderPerMinute: number; subscriptionsPerMinute: number; domainPerMinute: number;
  /** stanzas waiting for one sender, and in all */
  senderQueue: number; pendingMax: number;
}

export const DEFAULT_STANZA_LIMITS: StanzaLimits = {
  senderPerMinute: 300, subscriptionsPerMinute: 30, domainPerMinute: 3000, senderQueue: 100, pendingMax: 1000,
};

export interface XmppDeps {
  log: Logger;
  version: string;
  /** A user wrote to a contact (chat → mail). Without it, such messages are answered not-implemented. */
  onChat?(chat: IncomingChat): Promise<ChatVerdict>;
  /** The server answered a stanza we sent with an error (RFC 6120 §8.3). */
  onBounce(stanzaId: string, from: string, error: StanzaErrorInfo): void;
  /** Registration, commands, subscriptions, names; without them only discovery answers. */
  services?: GatewayServices;
  /** XEP-0184: the user's client acknowledged one of our chat messages. */
  onReceipt?(user: string, stanzaId: string): void;
  /** Each change of the link's state (docs/design.md §XMPP link). */
  onState?(state: LinkState): void;
  /** What became of a stanza a party sent: `handled`, or the budget that refused it (docs/design.md §Budgets). */
  onStanza?(kind: "iq" | "message" | "presence" | "error", outcome: string): void;
}

export interface XmppLink {
  /** Connect. Resolves "online", or "waiting" while the server cannot be reached (retrying in the
   * background); rejects when the server refuses our domain or secret, which no retry can fix. */
  start(): Promise<"online" | "waiting">;
  /** Where the link is (docs/design.md §XMPP link); only `online` lets deliveries go. */
  state(): LinkState;
  /** Counts the times the link came online (docs/design.md §Delivery state machine, Proof). */
  session(): number;
  isOnline(): boolean;
  /** Resolves when the link is online (at once if it is), or when `signal` aborts. */
  whenOnline(signal: AbortSignal): Promise<void>;
  /** The message, then each of its files as its own message (XEP-0066); in its room when `room` is set. */
  sendChat(message: ChatMessage): Promise<void>;
  /** Have the contact join the room as `nick`, to post a mail there; rejects with a RoomRefusal. */
  enterRoom(contact: string, room: string, nick: string): Promise<void>;
  /** XEP-0363 upload through `service`; resolves with the GET URL. */
  upload(service: string, file: UploadFile): Promise<string>;
  /** From a contact to a user: a notice, a late error on their message, or a XEP-0184 receipt. */
  notify(from: string, to: string, text: string): Promise<void>;
  sendLateError(from: string, to: string, id: string | null, condition: string, text: string): Promise<void>;
  sendReceipt(from: string, to: string, id: string): Promise<void>;
  /** A presence from the gateway's own domain to a user's bare JID (RFC 6121 §3, §4.3). */
  sendPresence(to: string, type: "subscribe" | "unsubscribe" | "probe"): Promise<void>;
  /** Resolves once the server has read everything sent before: a ping IQ answered (result or error)
   * after a batch proves it, streams being ordered (RFC 6120 §10.1). */
  flush(to: string, timeoutMs?: number): Promise<void>;
  /** XEP-0356, within what the server granted in this link session (docs/design.md §Roster and privileges). */
  privilege: {
    canRoster(user: BareJid, need: "get" | "set"): boolean;
    canMessage(user: BareJid): boolean;
    rosterItem(user: BareJid, contact: string): Promise<RosterItem | null>;
    rosterSet(user: BareJid, contact: string, name: string, groups: string[]): Promise<void>;
    /** false when no message permission was granted (nothing sent) */
    sendAsUser(user: BareJid, contact: string, body: string, subject: string | null): Promise<boolean>;
  };
  /** RFC 6121 §3.1.1 from a contact, with its XEP-0172 nick: the fallback without roster permission. */
  askSubscription(from: string, to: BareJid, nick: string | null): Promise<void>;
  /** The contact's available presence, from its full JID, to a user subscribed to it (docs/design.md §Presence). */
  announceContact(contact: string, to: BareJid): Promise<void>;
  /** XEP-0144 "add" to the user's online clients that announce it; resolves with how many. */
  suggestContact(user: BareJid, contact: string, name: string, group: string): Promise<number>;
  stop(): Promise<void>;
}
