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
import { createXmppLink, serverDomain } from "./xmpp/component.ts";
import { createSigner } from "./mail/dkim.ts";
import { createIntake } from "./queue/intake.ts";
import { createStructureReader } from "./queue/structures.ts";
import { createFileFetcher } from "./queue/fetch-file.ts";
import { createByteBudget } from "./queue/byte-budget.ts";
import { countAccepted, countOutcomes, createMetrics, timed } from "./ops/metrics.ts";
import { createReportPreparer, type ReportStanzas } from "./queue/reports.ts";
import { readBounceAddress } from "./core/verp.ts";
import { domainOf } from "./core/addresses.ts";
import { roleRecipient } from "./core/role-addresses.ts";
import type { ChatMessage, MailAddress, Recipient } from "./core/types.ts";
import { createAccountServices } from "./services/accounts.ts";
import { createAccountStore } from "./store/accounts.ts";
import { createSubscriptionStore } from "./store/subscriptions.ts";
import { createWebStore } from "./store/web.ts";
import { createRetentionStore } from "./store/retention.ts";
import { createPrunePass } from "./queue/prune.ts";
import { createForgetCommand } from "./services/retention.ts";

export const VERSION = "0.1.0";
const MAX_RETRY_AGE_SECONDS = 2 * 24 * 3600;
/** The pruner's pass comes this often (docs/design.md §What is stored). */
const PRUNE_EVERY_MS = 15 * 60_000;
/** An error stanza counts within 5 minutes of delivery, and re-queues a mail at most 10 attempts in all. */
const BOUNCE_LIMITS = { schedule: DEFAULT_SCHEDULE, maxAgeSeconds: MAX_RETRY_AGE_SECONDS, maxAttempts: 10, windowSeconds: 300 };

export interface App {
  smtpPort: number;
  httpPort: number;
  /** SIGTERM: stop accepting, let open transactions finish (or 421), stop the worker, close XMPP, then the database. */
  stop(graceMs?: number): Promise<void>;
}

export async function startApp(config: Config, log: Logger): Promise<App> {
  // Order: database, XMPP, worker, SMTP listener last.
  const db = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, role: "serve", log });
  const applied = await db.migrate();
  if (applied.length) log.info({ applied }, "migrations applied");
  const mailboxes = createMailboxStore(db.knex);
  const messages = createMessageStore(db.knex);
  const deliveries = createDeliveryStore(db.knex);
  const threads = createThreadStore(db.knex);
  const outgoing = createOutboundStore(db.knex);
  const relay = config.relayUrl ? createRelay(config.relayUrl) : null;
  const metrics = createMetrics();
  const sign = createSigner(config.dkim);
  const fetchMemory = createByteBudget({ bytes: config.attachments.fetchMemoryBytes });
  const queueChat = createOutbound({ componentDomain: config.xmpp.domain, sendLimit: config.sendLimit, fetchesPerUser: config.attachments.fetchPerUser }, {
    ownedBy: (jid) => mailboxes.ownedBy(jid), ...bind(threads, "byStanzaId", "latestFrom"), ...bind(outgoing, "queue", "sentCounts"),
    compose: async (mail) => sign(await composeMail(mail), domainOf(mail.from.address as MailAddress)),
    fetchFile: createFileFetcher({ hosts: config.attachments.fetchHosts, maxBytes: config.attachments.maxBytes }),
    reserve: (bytes) => fetchMemory.acquire(bytes), log,
    newToken, newSecret, now: () => new Date(),
  });

  const acceptChat: typeof queueChat = async (chat) => relay ? queueChat(chat)
    : { kind: "refused", type: "cancel", condition: "service-unavailable", text: "This gateway has no relay for outgoing mail (SMTP_RELAY); nothing was sent." };
  const accounts = createAccountStore(db.knex);
  const retention = createRetentionStore(db.knex);
  const accountServices = createAccountServices({ ...config, componentDomain: config.xmpp.domain }, {
    mailboxes, accounts, deliveries, subscriptions: createSubscriptionStore(db.knex), acceptChat,
  });
  // The user's own commands first, then the administrators'.
  const forget = createForgetCommand({ retentionDays: config.retention.days, batch: config.retention.batch }, bind(retention, "addressesOf", "purge"));
  const services = { ...accountServices, commands: [...accountServices.commands.filter((c) => !c.admin), forget,
    ...accountServices.commands.filter((c) => c.admin)] };
  const xmpp = createXmppLink(config.xmpp, {
    log, version: VERSION, services,
    onReceipt: (user, stanzaId) => void accounts.receipt(user, stanzaId).catch((err: Error) =>
      log.warn({ err: err.message, stanzaId }, "could not record a receipt")),
    onChat: acceptChat,
    onState: (state) => { if (state === "online") metrics.linkOnline.inc(); },
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
  try {
    await xmpp.start(); // throws on a wrong secret or domain; otherwise online or retrying in the background
  } catch (err) {
    await db.close();
    throw err;
  }

  const workerId = `${hostname()}:${process.pid}`;
  // Mail waiting for a parser thread is bounded by count and by the SMTP memory budget (docs/design.md §Budgets).
  const parser = createParsePool({ size: config.parse.threads, timeoutMs: config.parse.timeoutMs, memoryMb: config.parse.memoryMb,
    maxQueued: config.parse.maxQueued, maxQueuedBytes: config.smtp.memory.totalBytes,
    policy: { maxBytes: config.attachments.maxBytes, types: config.attachments.types } }, { log });
  const structureOf = createStructureReader({ ...bind(messages, "partsOf", "unstructuredRaw", "saveParts"), read: (raw) => parser.read(raw) });
  const prepareMail = createInboundPreparer({ componentDomain: config.xmpp.domain, chatMaxBytes: config.chatMaxBytes, publicUrl: config.web.publicUrl },
    { loadHeaders: (ids) => messages.headerBlocks(ids), now: () => new Date(),
      ...(config.attachments.uploadService || config.web.publicUrl ? {
        attachments: createAttachmentForwarder({ publicUrl: config.web.publicUrl }, {
          log, partsOf: structureOf, ...bind(messages, "partBytes", "uploads", "saveUploads"),
          ...(config.attachments.uploadService ? { upload: (file) => xmpp.upload(config.attachments.uploadService!, file) } : {}),
        }) } : {}) });
  const prepareReports = createReportPreparer({ componentDomain: config.xmpp.domain });
  const inboundOutcomes = countOutcomes(deliveries, metrics, "inbound");
  const worker = createWorker<ClaimedWithMessage, ChatMessage | ReportStanzas>({ id: workerId, batchSize: 100,
    leaseSeconds: config.leaseSeconds, pollMs: 2000, maxAgeSeconds: MAX_RETRY_AGE_SECONDS }, {
    log, ...bind(deliveries, "claim", "release", "renew"), ...bind(inboundOutcomes, "markDelivered", "fail", "retryLater"),
    // Order within the batch does not matter across kinds: each kind keeps its own order.
    prepare: async (batch) => [...await prepareMail(batch.filter((d) => d.kind === "mail")),
      ...prepareReports(batch.filter((d) => d.kind === "report"))],
    send: async (m) => {
      if (!("kind" in m)) return xmpp.sendChat(m);
      if (m.error) await xmpp.sendLateError(m.error.from, m.error.to, m.error.id, "recipient-unavailable", m.error.text);
      await xmpp.sendChat(m.notice);
    },
    // One ping to the server we are connected to proves the whole batch (docs/design.md §Delivery state machine).
    flush: () => xmpp.flush(serverDomain(config.xmpp.domain)),
    session: () => xmpp.session(),
    isOnline: () => xmpp.isOnline(),
    whenOnline: (signal) => xmpp.whenOnline(signal),
    listen: (wake) => db.listen(wakeOn("inbound", wake)),
  });
  await worker.start();
  const relayLoop = relay && createLoop({ pollMs: 2000, name: "relay" }, {
    log, listen: (wake) => db.listen(wakeOn("outbound", wake)),
    pass: createRelayPass({ id: workerId, componentDomain: config.xmpp.domain,
      maxAgeSeconds: config.relayRetry.maxAgeSeconds, schedule: config.relayRetry.schedule,
      leaseSeconds: config.leaseSeconds }, {
      log, ...bind(countOutcomes(deliveries, metrics, "outbound"), "markDelivered", "retryLater", "fail"), ...bind(deliveries, "renew"),
      claim: (w, n, lease) => outgoing.claim(w, n, lease),
      send: (envelope, raw) => relay.send(envelope, raw),
      notify: (from, to, text) => xmpp.notify(from, to, text),
      lateError: (from, to, id, text) => xmpp.sendLateError(from, to, id, "undefined-condition", text),
      receipt: (from, to, id) => xmpp.sendReceipt(from, to, id),
    }),
  });
  await relayLoop?.start();
  const prune = createPrunePass(config.retention, { log, ...bind(retention, "expire", "forget"), now: () => new Date() });
  const pruneLoop = createLoop({ pollMs: PRUNE_EVERY_MS, name: "prune" }, {
    log, listen: async () => async () => undefined, pass: async (signal) => { await prune(signal); return false; },
  });
  await pruneLoop.start();

  // RCPT lookups remembered while the database notifies changes (store/mailbox-cache.ts).
  const recipients = createMailboxCache({ max: 10_000, ttlMs: 60_000, proofTimeoutMs: 1000 }, { find: (a) => mailboxes.find(a), heard: () => db.heard(), now: Date.now });
  const unlistenMailboxes = await db.listen((notice) => recipients.hear(notice));
  // Sender authentication in its own thread (mail/auth-pool.ts), started with the first mail.
  const auth = config.auth.mode === "off" ? null
    : createAuthPool({ hostname: config.smtp.hostname, ...config.auth }, { log });
  const smtp = createSmtpListener({ ...config.smtp, mailDomains: config.mailDomains }, {
    log, onRefused: (reason) => metrics.refused.inc({ reason }),
    findRecipient: async (address): Promise<Recipient | undefined> => {
      const token = readBounceAddress(address as MailAddress);
      // A mailbox first (from memory, store/mailbox-cache.ts); else postmaster@/abuse@ for the admins.
      if (!token) return recipients.find(address).then((m) => m?.enabled ? m : roleRecipient(address as MailAddress, config) ?? m);
      const found = await threads.bounceTarget(token);
      return found && { address: found.mailbox as MailAddress, jid: found.target.userJid.split("/")[0] as Recipient["jid"],
        enabled: true, bounceOf: found.target };
    },
    accept: countAccepted(metrics, createIntake({ hostname: config.smtp.hostname, mailDomains: config.mailDomains, authMode: config.auth.mode }, {
      authenticate: auth && ((input) => auth.authenticate(input)),
      read: (raw) => timed(metrics.parseSeconds, () => parser.read(raw, { refusable: true })), store: messages,
      newId: () => newToken().slice(0, 12), now: () => new Date(), log,
    })),
  });
  metrics.watch({
    queue: async () => {
      const { oldestWaitingSeconds, ...byStatus } = await deliveries.counts();
      return { byStatus, oldestWaitingSeconds };
    },
    xmppState: () => xmpp.state(),
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
    metrics: async () => ({ contentType: metrics.registry.contentType, body: await metrics.registry.metrics() }),
    health: async () => {
      const database = await db.knex.raw("select 1").then(() => "ok", () => "unreachable");
      const link = xmpp.state();
      return { ok: database === "ok" && link === "online", database, xmpp: link, version: VERSION };
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
      await worker.stop();
      await relayLoop?.stop();
      await pruneLoop.stop();
      await unlistenMailboxes();
      relay?.close();
      await xmpp.stop();
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
