// The XEP-0114 link to the XMPP server: one @xmpp/component, reconnecting forever with backoff.
import xmppComponent from "@xmpp/component";
import { watchLink } from "./link.ts";
import { CONTACT_RESOURCE, installGateway, type GatewayServices } from "./gateway.ts";
import { createStanzaRouter } from "./incoming.ts";
import { createUploader } from "./upload.ts";
import { createStanzaBudget } from "../core/stanza-budget.ts";
import { installIqGuard } from "./iq-guard.ts";
import { createSenderQueues } from "./sender-queues.ts";
import { DEFAULT_ROOM_LIMITS, DEFAULT_STANZA_LIMITS, type XmppConfig, type XmppDeps, type XmppLink } from "./link-api.ts";
import { createRoomOccupants } from "./rooms.ts";
import { createPrivilege } from "./privilege.ts";
import { createResources } from "./resources.ts";
import { NS, availablePresence, chatStanza, fileStanza, gatewayPresence, laterError, noticeStanza, pingStanza, receiptStanza, subscribeStanza } from "./stanzas.ts";

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
