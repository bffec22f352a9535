// The composition root: with src/app/, the only code that wires more than one room; here the order of
// start and stop (docs/design.md §Rooms).
import { hostname } from "node:os";
import type { Config } from "./config.ts";
import type { Logger } from "./log.ts";
import { createHttpServer } from "./ops/http.ts";
import { createParsePool } from "./mail/parse-pool.ts";
import { createAuthPool } from "./mail/auth-pool.ts";
import { DEFAULT_SCHEDULE } from "./queue/retry.ts";
import { createSmtpListener } from "./smtp/server.ts";
import { openDatabase } from "./store/db.ts";
import { createDeliveryStore } from "./store/deliveries.ts";
import { createMailboxStore } from "./store/mailboxes.ts";
import { createMessageStore, newSecret, newToken } from "./store/messages.ts";
import { createThreadStore } from "./store/threads.ts";
import { createOutboundStore } from "./store/outbound.ts";
import { createLoop } from "./queue/loop.ts";
import { createRelay } from "./smtp/sender.ts";
import { createXmppLink } from "./xmpp/component.ts";
import type { XmppLink } from "./xmpp/link-api.ts";
import { createIntake } from "./queue/intake.ts";
import { createStructureReader } from "./queue/structures.ts";
import { countAccepted, createMetrics, timed } from "./ops/metrics.ts";
import { createAccountStore } from "./store/accounts.ts";
import { createSubscriptionStore } from "./store/subscriptions.ts";
import { createWebStore } from "./store/web.ts";
import { createRoomStore } from "./store/rooms.ts";
import { createBadgeRoutes } from "./web/badges.ts";
import { createLinkLock, createSoleLock } from "./store/link-lock.ts";
import { createServices } from "./app/services.ts";
import { createInboundWiring } from "./app/inbound.ts";
import { createRecipients } from "./app/recipients.ts";
import { createOutboundWiring } from "./app/outbound.ts";
import { bind } from "./app/bind.ts";
import { createRoleKeeper, type Term } from "./ops/role-keeper.ts";
import { createRetentionStore } from "./store/retention.ts";
import { createPrunePass } from "./queue/prune.ts";

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
  const workerId = `${hostname()}:${process.pid}`;
  /** This instance's link while it holds the link lock (docs/design.md §Several instances); null on a standby. */
  let xmpp: XmppLink | null = null;
  const linked = (): XmppLink => {
    if (!xmpp) throw new Error("this instance is a standby: another instance holds the XMPP link");
    return xmpp;
  };
  const { acceptChat, relayLoop } = createOutboundWiring({ ...config, workerId }, {
    log, mailboxes, rooms, threads, outgoing, deliveries, metrics, relay, linked, listen: (onNotice) => db.listen(onNotice), newToken, newSecret,
  });
  const accounts = createAccountStore(db.knex);
  const subscriptions = createSubscriptionStore(db.knex);
  const { services, roster, badges, badgeStore, rspamd } = createServices(config, {
    knex: db.knex, log, mailboxes, accounts, deliveries, subscriptions, acceptChat, linked: () => linked(), newSecret,
  });
  const createLink = () => createXmppLink(config.xmpp, {
    log, version: VERSION, services,
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

  // Mail waiting for a parser thread is bounded by count and by the SMTP memory budget (docs/design.md §Budgets).
  const parser = createParsePool({ size: config.parse.threads, timeoutMs: config.parse.timeoutMs, memoryMb: config.parse.memoryMb,
    maxQueued: config.parse.maxQueued, maxQueuedBytes: config.smtp.memory.totalBytes,
    policy: { maxBytes: config.attachments.maxBytes, types: config.attachments.types } }, { log });
  const structureOf = createStructureReader({ ...bind(messages, "partsOf", "unstructuredRaw", "saveParts"), read: (raw) => parser.read(raw) });
  const createInboundWorker = createInboundWiring({ ...config, workerId, maxAgeSeconds: MAX_RETRY_AGE_SECONDS }, {
    log, messages, deliveries, metrics, structureOf, roster, linked: () => linked(), listen: (onNotice) => db.listen(onNotice),
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
  await relayLoop?.start();
  const prune = createPrunePass(config.retention, { log, ...bind(createRetentionStore(db.knex), "expire", "forget"), now: () => new Date() });
  const pruneLoop = createLoop({ pollMs: PRUNE_EVERY_MS, name: "prune" }, {
    log, listen: async () => async () => undefined, pass: async (signal) => { await prune(signal); return false; },
  });
  await pruneLoop.start();

  const recipients = createRecipients(config, { mailboxes, rooms, threads, heard: () => db.heard() });
  const unlistenMailboxes = await db.listen((notice) => recipients.hear(notice));
  // Sender authentication in its own thread (mail/auth-pool.ts), started with the first mail.
  const auth = config.auth.mode === "off" ? null
    : createAuthPool({ hostname: config.smtp.hostname, ...config.auth }, { log });
  const smtp = createSmtpListener({ ...config.smtp, mailDomains: config.mailDomains }, {
    log, onRefused: (reason) => metrics.refused.inc({ reason }),
    findRecipient: (address) => recipients.find(address),
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
  const http = createHttpServer({ listen: config.httpListen, ...config.http }, {
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
