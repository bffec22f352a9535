// The composition root: the only file that wires more than one room.
import { hostname } from "node:os";
import type { Config } from "./config.ts";
import type { Logger } from "./log.ts";
import { createHttpServer } from "./ops/http.ts";
import { createAttachmentForwarder } from "./queue/attachments.ts";
import { createParsePool } from "./mail/parse-pool.ts";
import { createAuthPool } from "./mail/auth-pool.ts";
import { createInboundPreparer } from "./queue/inbound.ts";
import { DEFAULT_SCHEDULE } from "./queue/retry.ts";
import { createWorker } from "./queue/worker.ts";
import { createSmtpListener } from "./smtp/server.ts";
import { openDatabase, type Notice } from "./store/db.ts";
import { createMailboxCache } from "./store/mailbox-cache.ts";
import { createDeliveryStore, type ClaimedWithMessage } from "./store/deliveries.ts";
import { createMailboxStore } from "./store/mailboxes.ts";
import { createMessageStore, newSecret, newToken } from "./store/messages.ts";
import { createThreadStore } from "./store/threads.ts";
import { composeMail } from "./mail/compose.ts";
import { createOutbound } from "./queue/outbound.ts";
import { createRelayPass } from "./queue/relay.ts";
import { createOutboundStore } from "./store/outbound.ts";
import { createLoop } from "./queue/loop.ts";
import { createRelay } from "./smtp/sender.ts";
import { createXmppLink, serverDomain, type XmppLink } from "./xmpp/component.ts";
import { createSigner } from "./mail/dkim.ts";
import { createIntake } from "./queue/intake.ts";
import { createStructureReader } from "./queue/structures.ts";
import { createFileFetcher } from "./queue/fetch-file.ts";
import { createByteBudget } from "./queue/byte-budget.ts";
import { countAccepted, countOutcomes, createMetrics, timed } from "./ops/metrics.ts";
import { createReportPreparer, type ReportStanzas } from "./queue/reports.ts";
import { readBounceAddress } from "./core/verp.ts";
import { domainOf } from "./core/addresses.ts";
import { recipientCandidates, resolveRecipient } from "./core/recipients.ts";
import type { BareJid, ChatMessage, MailAddress, Recipient } from "./core/types.ts";
import { createAccountServices } from "./services/accounts.ts";
import { createChatDispatcher } from "./services/chat-commands.ts";
import { createMailboxChatCommands, noMailboxAnswer } from "./services/mailbox-chat.ts";
import { createAccountStore } from "./store/accounts.ts";
import { createSubscriptionStore } from "./store/subscriptions.ts";
import { createRosterStore } from "./store/roster.ts";
import { createRosterService } from "./services/roster.ts";
import { createWebStore } from "./store/web.ts";
import { createRoomStore } from "./store/rooms.ts";
import { createRoomPreparer } from "./queue/rooms.ts";
import { createBadgeStore } from "./store/badges.ts";
import { createBadges } from "./services/badges.ts";
import { createBadgeRoutes } from "./web/badges.ts";
import { createLinkLock, createSoleLock } from "./store/link-lock.ts";
import { createRoleKeeper, type Term } from "./ops/role-keeper.ts";
import { createRspamd } from "./mail/rspamd.ts";
import { createSpamStore } from "./store/spam.ts";
import { createSpamServices } from "./services/spam.ts";
import { createSpamChatCommands } from "./services/spam-chat.ts";
import { createRetentionStore } from "./store/retention.ts";
import { createPrunePass } from "./queue/prune.ts";
import { createForgetCommand, createRetentionChatCommands } from "./services/retention.ts";

export const VERSION = "0.1.0";
const MAX_RETRY_AGE_SECONDS = 2 * 24 * 3600;
/** docs/design.md §Several instances: a standby tries the link lock this often; the holder checks its session. */
const ROLE_TIMING = { retryMs: 1500, checkMs: 2000, checkTimeoutMs: 2000, failedRetryMs: 15_000 };
/** The pruner's pass comes this often (docs/design.md §What is stored). */
const PRUNE_EVERY_MS = 15 * 60_000;
/** An error stanza counts within 5 minutes of delivery, and re-queues a mail at most 10 attempts in all. */
const BOUNCE_LIMITS = { schedule: DEFAULT_SCHEDULE, maxAgeSeconds: MAX_RETRY_AGE_SECONDS, maxAttempts: 10, windowSeconds: 300 };

export interface App {
  smtpPort: number;
  httpPort: number;
  /** SIGTERM: stop accepting, let open transactions finish (or 421), stop the relay loop, the worker, close XMPP, then the database. */
  stop(graceMs?: number): Promise<void>;
}

export async function startApp(config: Config, log: Logger): Promise<App> {
  // Order: database, the link lock (and, when it is ours, XMPP and the worker), the relay loop, SMTP listener last.
  const db = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, role: "serve", log });
  const applied = await db.migrate();
  if (applied.length) log.info({ applied }, "migrations applied");
  const mailboxes = createMailboxStore(db.knex);
  const rooms = createRoomStore(db.knex);
  const messages = createMessageStore(db.knex);
  const deliveries = createDeliveryStore(db.knex);
  const threads = createThreadStore(db.knex);
  const outgoing = createOutboundStore(db.knex);
  const relay = config.relayUrl ? createRelay(config.relayUrl) : null;
  const metrics = createMetrics();
  const sign = createSigner(config.dkim);
  const fetchMemory = createByteBudget({ bytes: config.attachments.fetchMemoryBytes });
  const queueChat = createOutbound({ componentDomain: config.xmpp.domain, sendLimit: config.sendLimit, fetchesPerUser: config.attachments.fetchPerUser }, {
    // A room speaks from its own address (docs/design.md §Rooms with an address); a person from their mailboxes.
    ownedBy: async (jid) => {
      const owned = await mailboxes.ownedBy(jid);
      return owned.length ? owned : (await rooms.ofJid(jid)).map((r) => ({ address: r.address, displayName: null, room: true }));
    }, ...bind(threads, "byStanzaId", "latestFrom"), ...bind(outgoing, "queue", "sentCounts"),
    compose: async (mail) => sign(await composeMail(mail), domainOf(mail.from.address as MailAddress)),
    fetchFile: createFileFetcher({ hosts: config.attachments.fetchHosts, maxBytes: config.attachments.maxBytes }),
    reserve: (bytes) => fetchMemory.acquire(bytes), log,
    newToken, newSecret, now: () => new Date(),
  });

  const acceptChat: typeof queueChat = async (chat) => relay ? queueChat(chat)
    : { kind: "refused", type: "cancel", condition: "service-unavailable", text: "This gateway has no relay for outgoing mail (SMTP_RELAY); nothing was sent." };
  const accounts = createAccountStore(db.knex);
  const subscriptions = createSubscriptionStore(db.knex);
  // XEP-0356 (docs/design.md §Roster and privileges): within what the server grants the link in hand.
  const roster = createRosterService({ componentDomain: config.xmpp.domain, ...config.roster }, {
    store: createRosterStore(db.knex), subscriptions, log,
    link: () => { const link = linked(); return { ...link.privilege, askSubscription: (from, to, nick) => link.askSubscription(from, to, nick),
      announceContact: (contact, to) => link.announceContact(contact, to),
      suggestContact: (user, contact, name, group) => link.suggestContact(user, contact, name, group) }; },
  });
  // Content filtering and the user's own decisions about senders (docs/design.md §Spam).
  const rspamd = config.rspamd && createRspamd(config.rspamd);
  const spam = createSpamServices({ mailboxes, spam: createSpamStore(db.knex), learnSpam: rspamd && ((raw) => rspamd.learnSpam(raw)) });
  const accountServices = createAccountServices({ ...config, componentDomain: config.xmpp.domain }, {
    mailboxes, accounts, deliveries, subscriptions, acceptChat,
    sentCopy: (user, contact, body, subject) => linked().privilege.sendAsUser(user, contact, body, subject),
    commands: [...spam.contactCommands, ...spam.gatewayCommands], heldSummary: (jid) => spam.heldSummary(jid),
  });
  const badgeStore = createBadgeStore(db.knex);
  const badges = createBadges({ publicUrl: config.web.publicUrl }, {
    store: badgeStore, hasMailbox: async (user) => (await mailboxes.ownedBy(user)).length > 0,
    seesPresence: async (user) => (await subscriptions.get(user, config.xmpp.domain)).toUser,
    forgetPresence: async (user) => void await subscriptions.set(user, config.xmpp.domain, { toUser: false }),
    sendPresence: async (user, type) => linked().sendPresence(user, type), newId: newSecret,
    onError: (err) => log.warn({ err: err.message }, "presence badge not updated"),
  });
  const retention = createRetentionStore(db.knex);
  const forgetting = { retentionDays: config.retention.days, batch: config.retention.batch };
  const forget = createForgetCommand(forgetting, bind(retention, "addressesOf", "purge"));
  // The user's own commands first, then the administrators'.
  const services = { ...accountServices, commands: [...accountServices.commands.filter((c) => !c.admin), badges.command, forget,
    ...accountServices.commands.filter((c) => c.admin)],
    userPresence: (from: string, presence: Parameters<typeof badges.onPresence>[1]) => badges.onPresence(from, presence) };
  // Chat commands (docs/design.md §Chat commands): every service's words, one dispatcher.
  const chatCommand = createChatDispatcher({
    commands: [...createMailboxChatCommands({ componentDomain: config.xmpp.domain }, {
      specs: services.commands, contactName: services.contactName,
      mailboxOf: async (jid) => (await mailboxes.ownedBy(jid))[0]?.address ?? null,
      addContact: (user, address, name) => roster.addContact(user, address, name),
    }), ...badges.chatCommands, ...createSpamChatCommands({ spam }),
    ...createRetentionChatCommands(forgetting, bind(retention, "addressesOf", "purge"))],
    isAdmin: services.isAdmin, hasMailbox: async (jid) => (await mailboxes.ownedBy(jid)).length > 0,
    noMailbox: (jid) => noMailboxAnswer(jid, config.xmpp.domain, services.registration),
  });
  /** This instance's link while it holds the link lock (docs/design.md §Several instances); null on a standby. */
  let xmpp: XmppLink | null = null;
  const linked = (): XmppLink => {
    if (!xmpp) throw new Error("this instance is a standby: another instance holds the XMPP link");
    return xmpp;
  };
  const createLink = () => createXmppLink(config.xmpp, {
    log, version: VERSION, services: { ...services, chatCommand },
    onReceipt: (user, stanzaId) => void accounts.receipt(user, stanzaId).catch((err: Error) =>
      log.warn({ err: err.message, stanzaId }, "could not record a receipt")),
    onChat: acceptChat,
    onState: (state) => {
      if (state !== "online") return;
      metrics.linkOnline.inc();
      badges.resync().catch((err: Error) => log.warn({ err: err.message }, "presence badges not probed"));
    },
    onStanza: (kind, outcome) => metrics.stanzas.inc({ kind, outcome }),
    onBounce: (stanzaId, from, error) => {
      // RFC 6120 §8.3.2: type "wait" is temporary; cancel/modify/auth will not change by retrying.
      const permanent = error.type !== "wait";
      const why = `xmpp ${error.type}/${error.condition}${error.text ? `: ${error.text}` : ""}`;
      deliveries.bounce({ stanzaId, from, permanent, why }, BOUNCE_LIMITS).then((row) => {
        if (row) log.warn({ delivery: row.id, stanzaId, from, status: row.status, reason: why }, "delivery bounced by the xmpp server");
        // docs/design.md §Who speaks for a delivery: not its recipient or the recipient's server, or not in flight.
        else log.warn({ stanzaId, from, reason: why }, "stanza error ignored: it changes no delivery");
      }, (err: Error) => log.error({ err: err.message, stanzaId }, "could not record a bounce"));
    },
  });

  const workerId = `${hostname()}:${process.pid}`;
  // Mail waiting for a parser thread is bounded by count and by the SMTP memory budget (docs/design.md §Budgets).
  const parser = createParsePool({ size: config.parse.threads, timeoutMs: config.parse.timeoutMs, memoryMb: config.parse.memoryMb,
    maxQueued: config.parse.maxQueued, maxQueuedBytes: config.smtp.memory.totalBytes,
    policy: { maxBytes: config.attachments.maxBytes, types: config.attachments.types } }, { log });
  const structureOf = createStructureReader({ ...bind(messages, "partsOf", "unstructuredRaw", "saveParts"), read: (raw) => parser.read(raw) });
  const prepareMail = createInboundPreparer({ componentDomain: config.xmpp.domain, chatMaxBytes: config.chatMaxBytes, publicUrl: config.web.publicUrl },
    { now: () => new Date(),
      ...(config.attachments.uploadService || config.web.publicUrl ? {
        attachments: createAttachmentForwarder({ publicUrl: config.web.publicUrl }, {
          log, partsOf: structureOf, ...bind(messages, "partBytes", "uploads", "saveUploads"),
          ...(config.attachments.uploadService ? { upload: (file) => linked().upload(config.attachments.uploadService!, file) } : {}),
        }) } : {}) });
  const prepareRoomMail = createRoomPreparer({ componentDomain: config.xmpp.domain }, { enter: (...a) => linked().enterRoom(...a) });
  const prepareReports = createReportPreparer({ componentDomain: config.xmpp.domain });
  const inboundOutcomes = countOutcomes(deliveries, metrics, "inbound");
  const createInboundWorker = (link: XmppLink) => createWorker<ClaimedWithMessage, ChatMessage | ReportStanzas>({ id: workerId, batchSize: 100,
    leaseSeconds: config.leaseSeconds, pollMs: 2000, maxAgeSeconds: MAX_RETRY_AGE_SECONDS }, {
    log, ...bind(deliveries, "claim", "release", "renew"), ...bind(inboundOutcomes, "markDelivered", "fail", "retryLater"),
    // Order within the batch does not matter across kinds: each kind keeps its own order.
    prepare: async (batch) => [...await prepareMail(batch.filter((d) => d.kind === "mail")),
      ...await prepareRoomMail(await prepareMail(batch.filter((d) => d.kind === "room"))),
      ...prepareReports(batch.filter((d) => d.kind === "report"))],
    send: async (m) => {
      if (!("kind" in m)) {
        // A new correspondent's roster item comes first, within a bound (services/roster.ts first()).
        if (!m.room) await roster.first(m.to.split("/")[0] as BareJid, m.from, m.nick);
        await link.sendChat(m);
        // After delivery, best effort, never waited for (services/roster.ts); a room has no roster.
        if (!m.room) roster.noteDelivered(m.to.split("/")[0] as BareJid, m.from, m.nick);
        return;
      }
      if (m.error) await link.sendLateError(m.error.from, m.error.to, m.error.id, "recipient-unavailable", m.error.text);
      await link.sendChat(m.notice);
    },
    // One ping to the server we are connected to proves the whole batch (docs/design.md §Delivery state machine).
    flush: () => link.flush(serverDomain(config.xmpp.domain)),
    session: () => link.session(),
    isOnline: () => link.isOnline(),
    whenOnline: (signal) => link.whenOnline(signal),
    listen: (wake) => db.listen(wakeOn("inbound", wake)),
  });
  // One term as holder: the link, then the worker; no timer or socket of it outlives stop().
  const openLink = async (): Promise<Term> => {
    const link = createLink();
    await link.start(); // throws on a wrong secret or domain; otherwise online or retrying in the background
    xmpp = link;
    const worker = createInboundWorker(link);
    await worker.start();
    return {
      async stop(reason) {
        if (xmpp === link) xmpp = null;
        // Lost lock: another instance may open its link any moment, so ours closes first.
        if (reason === "lost") await link.stop();
        await worker.stop();
        await link.stop();
      },
    };
  };
  const keeper = createRoleKeeper(ROLE_TIMING, {
    log, open: () => openLink(), onRole: (role) => metrics.role.set(role),
    lock: (onLost) => config.databaseUrl ? createLinkLock({ databaseUrl: config.databaseUrl, domain: config.xmpp.domain }, { log, onLost }) : createSoleLock(),
  });
  try {
    await keeper.start();
  } catch (err) {
    await parser.close();
    await db.close();
    throw err;
  }
  const relayLoop = relay && createLoop({ pollMs: 2000, name: "relay" }, {
    log, listen: (wake) => db.listen(wakeOn("outbound", wake)),
    pass: createRelayPass({ id: workerId, componentDomain: config.xmpp.domain,
      maxAgeSeconds: config.relayRetry.maxAgeSeconds, schedule: config.relayRetry.schedule,
      leaseSeconds: config.leaseSeconds }, {
      log, ...bind(countOutcomes(deliveries, metrics, "outbound"), "markDelivered", "retryLater", "fail"), ...bind(deliveries, "renew"),
      claim: (w, n, lease) => outgoing.claim(w, n, lease),
      send: (envelope, raw) => relay.send(envelope, raw),
      // On a standby these throw: the notice is logged, not sent (docs/design.md §Several instances).
      notify: async (from, to, text) => linked().notify(from, to, text),
      lateError: async (from, to, id, text) => linked().sendLateError(from, to, id, "undefined-condition", text),
      receipt: async (from, to, id) => linked().sendReceipt(from, to, id),
    }),
  });
  await relayLoop?.start();
  const prune = createPrunePass(config.retention, { log, ...bind(retention, "expire", "forget"), now: () => new Date() });
  const pruneLoop = createLoop({ pollMs: PRUNE_EVERY_MS, name: "prune" }, {
    log, listen: async () => async () => undefined, pass: async (signal) => { await prune(signal); return false; },
  });
  await pruneLoop.start();

  // RCPT lookups remembered while the database notifies changes (store/mailbox-cache.ts).
  // Each answer is the whole resolution of one address: a room's own address, else exact, subaddress, role,
  // catch-all (core/recipients.ts). A mailbox wins over a room of the same address (store/rooms.ts refuses
  // to make one); both are read at once.
  const rules = { delimiters: config.recipientDelimiters, mailDomains: config.mailDomains, adminJids: config.adminJids };
  const recipients = createMailboxCache({ max: 10_000, ttlMs: 60_000, proofTimeoutMs: 1000 }, { heard: () => db.heard(), now: Date.now,
    find: async (a): Promise<Recipient | undefined> => {
      const [rows, room] = await Promise.all([mailboxes.findAny(recipientCandidates(a, rules.delimiters)), rooms.find(a)]);
      if (room && !rows.some((r) => r.address.toLowerCase() === a.toLowerCase())) {
        return { address: room.address, jid: room.jid, enabled: room.enabled, room: true };
      }
      return resolveRecipient(a as MailAddress, rows, rules);
    } });
  const unlistenMailboxes = await db.listen((notice) => recipients.hear(notice));
  // Sender authentication in its own thread (mail/auth-pool.ts), started with the first mail.
  const auth = config.auth.mode === "off" ? null
    : createAuthPool({ hostname: config.smtp.hostname, ...config.auth }, { log });
  const smtp = createSmtpListener({ ...config.smtp, mailDomains: config.mailDomains }, {
    log, onRefused: (reason) => metrics.refused.inc({ reason }),
    findRecipient: async (address): Promise<Recipient | undefined> => {
      const token = readBounceAddress(address as MailAddress);
      // The bounce form first (core/verp.ts); then the mailbox, from memory (store/mailbox-cache.ts), with
      // the address as this RCPT spelled it when it reached the mailbox by another.
      if (!token) return recipients.find(address).then((m) => m?.addressedTo ? { ...m, addressedTo: address as MailAddress } : m);
      const found = await threads.bounceTarget(token);
      return found && { address: found.mailbox as MailAddress, jid: found.target.userJid.split("/")[0] as Recipient["jid"],
        enabled: true, bounceOf: found.target };
    },
    accept: countAccepted(metrics, createIntake({ hostname: config.smtp.hostname, mailDomains: config.mailDomains, authMode: config.auth.mode,
      spamUnavailable: config.rspamd?.unavailable ?? "tempfail" }, {
      authenticate: auth && ((input) => auth.authenticate(input)),
      filter: rspamd && ((input) => rspamd.check(input)),
      read: (raw) => timed(metrics.parseSeconds, () => parser.read(raw, { refusable: true })), store: messages,
      newId: () => newToken().slice(0, 12), now: () => new Date(), log,
    })),
  });
  metrics.watch({
    queue: async () => {
      const { oldestWaitingSeconds, ...byStatus } = await deliveries.counts();
      return { byStatus, oldestWaitingSeconds };
    },
    xmppState: () => xmpp?.state() ?? null,
  });
  const webStore = createWebStore(db.knex);
  // Pages are built in their own pool (web/page-pool.ts), as many at once as are served.
  const pagePool = config.web.publicUrl
    ? (await import("./web/page-pool.ts")).createPagePool({ size: 2, timeoutMs: config.page.timeoutMs, memoryMb: config.parse.memoryMb }, { log }) : null;
  const http = createHttpServer(config.httpListen, {
    // Pages only where links are given out (PUBLIC_URL); what is read of a stored mail is bounded by
    // SMTP_MAX_SIZE, plus the trace and authentication headers we put on top.
    web: pagePool ? (await import("./web/routes.ts")).createWebPages({ linkDays: config.web.linkDays, maxConcurrent: 2 }, {
      byToken: (...a) => webStore.byToken(...a), log,
      ...(await import("./web/mail-page.ts")).createMailPages({ maxBytes: config.smtp.maxSize + 1024 * 1024 }, {
        partBytes: (id, part) => messages.partBytes(id, part), build: (source) => pagePool.build(source),
        savePage: (id, html) => webStore.savePage(id, html), structureOf, built: (outcome) => metrics.pagesBuilt.inc({ outcome }),
      }),
    }) : undefined,
    ...(config.web.publicUrl ? { presence: createBadgeRoutes({ publicUrl: config.web.publicUrl }, { byId: (id) => badgeStore.byId(id), log }) } : {}),
    metrics: async () => ({ contentType: metrics.registry.contentType, body: await metrics.registry.metrics() }),
    health: async () => {
      const database = await db.knex.raw("select 1").then(() => "ok", () => "unreachable");
      const role = keeper.role();
      // A standby is healthy with its database: it accepts and relays mail (docs/design.md §Several instances).
      if (role !== "link") return { ok: database === "ok" && role === "standby", database, role, version: VERSION };
      const link = xmpp?.state() ?? "connecting";
      return { ok: database === "ok" && link === "online", database, role, xmpp: link, version: VERSION };
    },
  });
  const httpAddress = await http.listen();
  const smtpAddress = await smtp.listen();
  log.info({ smtp: smtpAddress, http: httpAddress, database: db.describe }, "passerelle started");

  return {
    smtpPort: smtpAddress.port,
    httpPort: httpAddress.port,
    // Well under docker-compose's 30 s stop_grace_period: idle SMTP sessions get 421 when it runs out.
    async stop(graceMs = 10_000) {
      await smtp.close(graceMs);
      await parser.close();
      await pagePool?.close();
      await auth?.close();
      await relayLoop?.stop();
      await pruneLoop.stop();
      await roster.stop();
      await keeper.stop();
      await unlistenMailboxes();
      relay?.close();
      await http.close();
      await db.close();
      log.info("passerelle stopped");
    },
  };
}

/** A loop's wake-up for the notices that concern it: its own direction, or anything after a reconnect. */
function wakeOn(direction: "inbound" | "outbound", wake: () => void): (notice: Notice) => void {
  return (notice) => {
    if (notice === direction || notice === "all") wake();
  };
}

/** Methods of a store as free functions for a deps object. */
function bind<T extends object, K extends keyof T>(target: T, ...keys: K[]): Pick<T, K> {
  return Object.fromEntries(keys.map((k) => [k, (target[k] as (...a: unknown[]) => unknown).bind(target)])) as Pick<T, K>;
}
