// The XEP-0114 link to the XMPP server: one @xmpp/component, reconnecting forever with backoff.
import xmppComponent from "@xmpp/component";
import type { Logger } from "../log.ts";
import type { BareJid, ChatMessage } from "../core/types.ts";
import { watchLink } from "./link.ts";
import type { LinkState } from "./link-state.ts";
import { CONTACT_RESOURCE, installGateway, type GatewayServices } from "./gateway.ts";
import type { CommandBudget } from "./commands.ts";
import { createStanzaRouter, type ChatVerdict } from "./incoming.ts";
import { createUploader, type UploadFile } from "./upload.ts";
import { createStanzaBudget } from "../core/stanza-budget.ts";
import { installIqGuard } from "./iq-guard.ts";
import { createSenderQueues } from "./sender-queues.ts";
import { createRoomOccupants, type RoomOccupantsConfig } from "./rooms.ts";
import type { IncomingChat } from "../core/outbound.ts";
import { createPrivilege, type RosterItem } from "./privilege.ts";
import { createResources } from "./resources.ts";
import { NS, availablePresence, chatStanza, fileStanza, gatewayPresence, laterError, noticeStanza, pingStanza, receiptStanza, subscribeStanza, type StanzaErrorInfo } from "./stanzas.ts";

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

export type { ChatVerdict } from "./incoming.ts";
export type { LinkState } from "./link-state.ts";

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

/** Without services (the check command): discovery and ping only, nothing remembered. */
const BASIC: GatewayServices = {
  contactName: async () => null,
  getSubscription: async () => ({ fromUser: false, toUser: false }),
  setSubscription: async () => false,
  askOnce: async () => false,
  registration: null,
  commands: [],
  isAdmin: () => false,
};

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

/** Stream errors that mean the configuration is wrong (RFC 6120 §4.9.3, XEP-0114 §3). */
// `conflict`: ejabberd refuses a component domain that is one of its own virtual hosts (and Prosody with
// kick_new one already connected); fatal at the first start only, like the others.
const FATAL = new Set(["not-authorized", "host-unknown", "improper-addressing", "conflict"]);
const KEEPALIVE_MS = 30_000;
const STOP_TIMEOUT_MS = 2000;

export class XmppConfigError extends Error {
  override name = "XmppConfigError";
  /** the stream error's condition (RFC 6120 §4.9.3) */
  readonly condition: string;
  constructor(message: string, condition: string) {
    super(message);
    this.condition = condition;
  }
}

export function createXmppLink(config: XmppConfig, deps: XmppDeps): XmppLink {
  const { log } = deps;
  const { component, xml } = xmppComponent;
  const xmpp = component({ service: config.service, domain: config.domain, password: config.secret });

  // An `error` listener is mandatory: EventEmitter throws otherwise.
  xmpp.on("error", (err: Error & { condition?: string }) => {
    if (err.condition && FATAL.has(err.condition)) {
      log.error({ condition: err.condition }, describeFatal(err.condition, config));
    } else {
      log.debug({ err: err.message }, "xmpp error");
    }
  });

  // Every stanza a party sends counts against its budgets, then waits in its sender's bounded queue.
  const limits = config.stanzas ?? DEFAULT_STANZA_LIMITS;
  const budget = createStanzaBudget({ ...limits, localDomains: [serverDomain(config.domain)] }, { now: Date.now });
  const queues = createSenderQueues({ perSender: limits.senderQueue, total: limits.pendingMax },
    { onError: (err) => log.error({ err: err.message }, "stanza from a user not handled") });
  const onStanza = deps.onStanza ?? (() => undefined);
  installIqGuard(xmpp, { budget, queues, onStanza: (outcome) => onStanza("iq", outcome) });

  // Register IQ handlers once (after the guard); `online` fires again on every reconnect.
  const gateway = installGateway({ domain: config.domain, version: deps.version, ...(config.commands ? { commands: config.commands } : {}) }, xmpp.iqCallee,
    (stanza) => xmpp.send(stanza), deps.services ?? BASIC, log);

  const rooms = createRoomOccupants({ ...(config.rooms ?? DEFAULT_ROOM_LIMITS), resource: CONTACT_RESOURCE }, {
    log, send: (stanza) => xmpp.send(stanza),
    discoInfo: (room, from, timeoutMs) => xmpp.iqCaller.request(xml("iq", { type: "get", to: room, from }, xml("query", { xmlns: NS.discoInfo })), timeoutMs),
  });
  const privilege = createPrivilege({ domain: config.domain, serverDomains: config.serverDomains ?? [parentDomain(config.domain)] }, {
    send: (stanza) => xmpp.send(stanza), request: (stanza, timeoutMs) => xmpp.iqCaller.request(stanza, timeoutMs),
  });
  const resources = createResources({ domain: config.domain }, {
    send: (stanza) => xmpp.send(stanza), request: (stanza, timeoutMs) => xmpp.iqCaller.request(stanza, timeoutMs),
  });
  xmpp.on("connect", () => privilege.reset());
  xmpp.on("disconnect", () => privilege.reset());
  xmpp.on("stanza", createStanzaRouter({
    log, send: (stanza) => xmpp.send(stanza), onBounce: deps.onBounce, rooms,
    onPresence: (stanza) => {
      if (rooms.onPresence(stanza)) return Promise.resolve();
      resources.see(stanza);
      return gateway.onPresence(stanza);
    },
    domain: config.domain, onGatewayMessage: (stanza) => gateway.onMessage(stanza),
    onPrivilege: (stanza, element) => {
      const grant = privilege.onAnnouncement(stanza, element);
      if (grant) log.info({ from: stanza.attrs.from, grant }, "xep-0356 permissions granted");
      else log.warn({ from: stanza.attrs.from }, "xep-0356 announcement ignored: not from our server");
    },
    isEcho: (stanza) => privilege.isEcho(stanza),
    budget, queues, onStanza,
    ...(deps.onReceipt ? { onReceipt: deps.onReceipt } : {}), ...(deps.onChat ? { onChat: deps.onChat } : {}),
  }));

  const flush = async (to: string, timeoutMs = 10_000): Promise<void> => {
    try {
      await xmpp.iqCaller.request(pingStanza(config.domain, to), timeoutMs);
    } catch (err) {
      // An error reply proves the server read the stream up to here just as well as a result.
      if ((err as { name?: string }).name === "StanzaError") return;
      throw err;
    }
  };
  const link = watchLink(xmpp, { ...config, keepaliveMs: config.keepaliveMs ?? KEEPALIVE_MS }, {
    log, ping: (timeoutMs) => flush(serverDomain(config.domain), timeoutMs),
    onState: (state) => {
      // A new stream starts with none of our occupants in any room.
      if (state !== "online") rooms.reset();
      deps.onState?.(state);
    },
  });

  return {
    async start() {
      // A stream error naming our domain or secret arrives before its socket is gone.
      let fatal: string | undefined;
      const noteFatal = (err: { condition?: string }) => {
        if (err.condition && FATAL.has(err.condition)) fatal ??= err.condition;
      };
      xmpp.on("error", noteFatal);
      let failure: string | undefined;
      const first = xmpp.start().then(() => true, (err: Error) => {
        failure = err.message;
        return false;
      });
      const online = await Promise.race([first, link.settled()]).finally(() => xmpp.off("error", noteFatal));
      if (online) return "online";
      if (fatal) {
        await this.stop();
        throw new XmppConfigError(describeFatal(fatal, config), fatal);
      }
      log.warn({ xmppService: config.service, err: failure ?? "link lost" }, "waiting for the XMPP server; mail is accepted and queued meanwhile");
      return "waiting";
    },
    state: () => link.state(),
    session: () => link.session(),
    isOnline: () => link.state() === "online",
    whenOnline: (signal) => link.whenOnline(signal),
    async sendChat(message) {
      if (message.room) return rooms.post(message);
      await xmpp.send(chatStanza(message, config.domain));
      for (const file of message.files ?? []) await xmpp.send(fileStanza(message, file, config.domain));
    },
    enterRoom: (contact, room, nick) => rooms.enter(contact, room, nick),
    upload: (service, file) => createUploader({ domain: config.domain, service },
      (stanza, timeoutMs) => xmpp.iqCaller.request(stanza, timeoutMs))(file),
    notify: (from, to, text) => xmpp.send(noticeStanza(from, to, text)),
    sendLateError: (from, to, id, condition, text) => xmpp.send(laterError(from, to, id, condition, text)),
    sendReceipt: (from, to, id) => xmpp.send(receiptStanza(from, to, id)),
    sendPresence: (to, type) => xmpp.send(gatewayPresence(config.domain, to, type)),
    flush,
    privilege: {
      canRoster: (user, need) => privilege.canRoster(user, need),
      canMessage: (user) => privilege.canMessage(user),
      rosterItem: (user, contact) => privilege.rosterItem(user, contact),
      rosterSet: (user, contact, name, groups) => privilege.rosterSet(user, contact, name, groups),
      sendAsUser: (user, contact, body, subject) => privilege.sendAsUser(user, contact, body, subject),
    },
    askSubscription: (from, to, nick) => xmpp.send(subscribeStanza(from, to, nick)),
    announceContact: (contact, to) => xmpp.send(availablePresence(`${contact}/${CONTACT_RESOURCE}`, to)),
    suggestContact: (user, contact, name, group) => resources.suggest(user, contact, name, group),
    async stop() {
      await rooms.stop();
      link.stop();
      xmpp.reconnect.stop();
      // xmpp.js waits up to its 30 s timeout for the server's </stream>, even on a dead socket.
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        xmpp.stop().catch(() => undefined),
        new Promise((resolve) => { timer = setTimeout(resolve, STOP_TIMEOUT_MS); }),
      ]);
      clearTimeout(timer);
      link.drop();
    },
  };
}

/** XEP-0356 §4.2: the component's parent domain, whose server grants it permissions (`mail.localhost` → `localhost`). */
export function parentDomain(componentDomain: string): string {
  const dot = componentDomain.indexOf(".");
  return dot > 0 ? componentDomain.slice(dot + 1) : componentDomain;
}

/** The server that hosts the component: `mail.jabber.example` → `jabber.example`. */
export function serverDomain(componentDomain: string): string {
  const dot = componentDomain.indexOf(".");
  return dot > 0 && componentDomain.indexOf(".", dot + 1) > 0 ? componentDomain.slice(dot + 1) : componentDomain;
}

function describeFatal(condition: string, config: XmppConfig): string {
  if (condition === "not-authorized") {
    // ejabberd gives the same answer for an unknown domain as for a wrong secret.
    return `the XMPP server at ${config.service} refused the component secret for ${config.domain}: check XMPP_SECRET against the server's component_secret (Prosody) or the ejabberd_service listener's password, and XMPP_DOMAIN against its hosts (ejabberd answers the same for an unknown domain)`;
  }
  if (condition === "conflict") {
    return `the XMPP server at ${config.service} will not route ${config.domain} to us (conflict): XMPP_DOMAIN must not be one of the server's own virtual hosts, and no other component may hold it (Prosody: component_conflict_resolve = "kick_old")`;
  }
  return `the XMPP server at ${config.service} does not know the component domain ${config.domain} (${condition}): check XMPP_DOMAIN against the server's Component entry`;
}
