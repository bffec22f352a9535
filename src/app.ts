// The composition root: the only file that wires more than one room.
import { hostname } from "node:os";
import type { Config } from "./config.ts";
import type { Logger } from "./log.ts";
import { createHttpServer } from "./http.ts";
import { createParsePool } from "./mail/parse-pool.ts";
import { receivedHeader } from "./mail/render.ts";
import { createInboundPreparer } from "./queue/inbound.ts";
import { retryDelaySeconds } from "./queue/retry.ts";
import { createWorker } from "./queue/worker.ts";
import { createSmtpListener } from "./smtp/server.ts";
import { openDatabase } from "./store/db.ts";
import { createDeliveryStore } from "./store/deliveries.ts";
import { createMailboxStore } from "./store/mailboxes.ts";
import { createMessageStore, createThreadStore, newToken } from "./store/messages.ts";
import { renderMail } from "./mail/render.ts";
import { createOutbound, createRelayPass } from "./queue/outbound.ts";
import { createLoop } from "./queue/loop.ts";
import { createRelay } from "./smtp/sender.ts";
import { createXmppLink } from "./xmpp/component.ts";

export const VERSION = "0.1.0";
const MAX_RETRY_AGE_SECONDS = 2 * 24 * 3600;

export interface App {
  smtpPort: number;
  httpPort: number;
  /** SIGTERM: stop accepting, let open transactions finish (or 421), stop the worker, close XMPP, then the database. */
  stop(graceMs?: number): Promise<void>;
}

export async function startApp(config: Config, log: Logger): Promise<App> {
  // Order: database, XMPP, worker, SMTP listener last (issue #2, Running it).
  const db = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, role: "serve", log });
  const applied = await db.migrate();
  if (applied.length) log.info({ applied }, "migrations applied");
  const mailboxes = createMailboxStore(db.knex);
  const messages = createMessageStore(db.knex);
  const deliveries = createDeliveryStore(db.knex);
  const threads = createThreadStore(db.knex);
  const relay = config.relayUrl ? createRelay(config.relayUrl) : null;
  const acceptChat = createOutbound({ componentDomain: config.xmpp.domain }, {
    ownedBy: (jid) => mailboxes.ownedBy(jid), ...bind(threads, "byStanzaId", "latestFrom", "queue"),
    render: renderMail, newToken, now: () => new Date(),
  });

  const xmpp = createXmppLink(config.xmpp, {
    log, version: VERSION,
    onChat: async (chat) => relay ? acceptChat(chat)
      : { kind: "refused", type: "cancel", condition: "service-unavailable", text: "This gateway has no relay for outgoing mail (SMTP_RELAY); nothing was sent." },
    onBounce: (stanzaId, error) => {
      // RFC 6120 §8.3.2: type "wait" is temporary; cancel/modify/auth will not change by retrying.
      const permanent = error.type !== "wait";
      const why = `xmpp ${error.type}/${error.condition}${error.text ? `: ${error.text}` : ""}`;
      deliveries.bounce(stanzaId, permanent, why, retryDelaySeconds(1), MAX_RETRY_AGE_SECONDS).then((row) => {
        if (row) log.warn({ delivery: row.id, stanzaId, status: row.status, reason: why }, "delivery bounced by the xmpp server");
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
  const worker = createWorker({ id: workerId, batchSize: 100, leaseSeconds: 120, pollMs: 2000 }, {
    log, ...bind(deliveries, "claim", "markDelivered", "release", "fail"),
    prepare: createInboundPreparer({ componentDomain: config.xmpp.domain, chatMaxBytes: config.chatMaxBytes },
      { loadMessages: (ids) => messages.getMany(ids), now: () => new Date() }),
    send: (message) => xmpp.sendChat(message),
    flush: (domain) => xmpp.flush(domain),
    isOnline: () => xmpp.isOnline(),
    whenOnline: (signal) => xmpp.whenOnline(signal),
    listen: (wake) => db.listen(wake),
  });
  await worker.start();
  const relayLoop = relay && createLoop({ pollMs: 2000, name: "relay" }, {
    log, listen: (wake) => db.listen(wake),
    pass: createRelayPass({ id: workerId, componentDomain: config.xmpp.domain,
      maxAgeSeconds: config.relayRetry.maxAgeSeconds, schedule: config.relayRetry.schedule }, {
      log, ...bind(deliveries, "markDelivered", "retryLater", "fail"),
      claim: (w, n, lease) => deliveries.claim(w, n, lease, "outbound"),
      load: (id) => messages.forRelay(id),
      send: (envelope, raw) => relay.send(envelope, raw),
      notify: (from, to, text) => xmpp.notify(from, to, text),
      lateError: (from, to, id, text) => xmpp.sendLateError(from, to, id, "undefined-condition", text),
    }),
  });
  await relayLoop?.start();

  const parser = createParsePool({ size: 2, ...config.parse }, { log });
  const smtp = createSmtpListener({ ...config.smtp, mailDomains: config.mailDomains }, {
    log,
    findMailbox: (address) => mailboxes.find(address),
    accept: async (envelope, raw) => {
      const trace = receivedHeader({ ...envelope, by: config.smtp.hostname, id: newToken().slice(0, 12),
        recipient: envelope.recipients.length === 1 ? envelope.recipients[0]!.address : null, date: new Date() });
      const full = Buffer.concat([Buffer.from(trace, "latin1"), raw]);
      return messages.accept({ ...envelope, raw: full, parsed: await parser.parse(full) });
    },
  });
  const http = createHttpServer(config.httpListen, {
    health: async () => {
      const database = await db.knex.raw("select 1").then(() => "ok", () => "unreachable");
      const link = xmpp.isOnline() ? "online" : "offline";
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
      await worker.stop();
      await relayLoop?.stop();
      relay?.close();
      await xmpp.stop();
      await http.close();
      await db.close();
      log.info("passerelle stopped");
    },
  };
}

/** Methods of a store as free functions for a deps object. */
function bind<T extends object, K extends keyof T>(target: T, ...keys: K[]): Pick<T, K> {
  return Object.fromEntries(keys.map((k) => [k, (target[k] as (...a: unknown[]) => unknown).bind(target)])) as Pick<T, K>;
}
