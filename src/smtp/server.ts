// The inbound SMTP listener: refuse at RCPT, take the data within the limit, answer 250 only after commit.
import type { AddressInfo } from "node:net";
import { SMTPServer, type SMTPServerAddress, type SMTPServerDataStream, type SMTPServerSession } from "smtp-server";
import type { Logger } from "../log.ts";
import type { Recipient } from "../core/types.ts";
import { domainOf, parseMailAddress } from "../core/addresses.ts";
import { withPostmasterDomain } from "../core/role-addresses.ts";
import { senderHash } from "../core/sender-hash.ts";
import { countReceived } from "./hops.ts";
import { createGreetingPolicy } from "./greeting.ts";
import { createSessionGuard, type SessionLimits } from "./limits.ts";
import { receiveData } from "./data.ts";
import { createSmtpMemory, insufficientStorage, type SmtpMemoryConfig } from "./memory.ts";
import { BudgetSpent } from "../mail/memory-budget.ts";
import { ADAPTER_APPLIES, adaptConnections, installedSmtpServerVersion, SMTP_SERVER_VERSION } from "./smtp-server-adapter.ts";
import { queuedAs, replies, SmtpReply } from "./replies.ts";

export interface SmtpConfig {
  listen: { host: string; port: number };
  hostname: string;
  tls: { cert: string; key: string } | null;
  maxSize: number;
  maxRecipients: number;
  maxClients: number;
  mailDomains: string[];
  /** session deadline, minimum data rate, connections per address, trusted proxies (limits.ts) */
  limits: SessionLimits;
  /** refuse a mail with this many `Received:` fields or more (hops.ts) */
  maxHops: number;
  /** the pregreet test: how long a client that passed it is greeted at once (greeting.ts); 0: never */
  greetPassMs: number;
  /** message data held between DATA and the answer, overall and per client address (memory.ts) */
  memory: SmtpMemoryConfig;
}

/** RFC 5321 §4.5.3.1.4 allows 512 octets; extensions make lines longer. Above this: 421 and close. */
const MAX_COMMAND_LINE = 4096;

export interface Envelope {
  mailFrom: string;
  recipients: Recipient[];
  remoteAddress: string | null;
  helo: string | null;
}

export interface SmtpDeps {
  log: Logger;
  /** The enabled-or-not mailbox an address reaches (exact, subaddress, role, catch-all: core/recipients.ts),
   * or the mail a bounce address names (core/verp.ts); throws when the database cannot answer. */
  findRecipient(address: string): Promise<Recipient | undefined>;
  /** A refusal, for the metrics: `rcpt <reason>`, `size`, `hops`, `sender`. */
  onRefused?(reason: string): void;
  /** Store the mail durably; resolves with the queue id once committed. */
  accept(envelope: Envelope, raw: Buffer): Promise<{ token: string }>;
}

export interface SmtpListener {
  listen(): Promise<AddressInfo>;
  /** Stop accepting; open transactions finish or get 421 after `graceMs`; resolves when all commits are done. */
  close(graceMs: number): Promise<void>;
}

// RFC 5321 §4.1.2: a path never holds control characters; smtp-server lets some through.
const CONTROL = /[\u0000-\u001F\u007F]/;

export function createSmtpListener(config: SmtpConfig, deps: SmtpDeps): SmtpListener {
  const { log } = deps;
  const domains = new Set(config.mailDomains);
  const recipients = new WeakMap<object, Recipient[]>();
  // One delivery per mailbox however often it is named; each bounce address stands for its own mail.
  const key = (r: Recipient) => (r.bounceOf ? `bounce:${r.bounceOf.deliveryId}` : r.address.toLowerCase());
  const inFlight = new Set<Promise<unknown>>();
  let closing = false;
  const guard = createSessionGuard(config.limits, { log, hostname: config.hostname });
  const memory = createSmtpMemory({ ...config.memory, trustedProxies: config.limits.trustedProxies }, { log });
  // XCLIENT/XFORWARD rewrite the client's address: only for the proxies named in SMTP_TRUSTED_PROXIES.
  // smtp-server 3.21 takes a list of peer addresses for both (checked against the socket's own peer);
  // @types/smtp-server still says boolean, hence the casts below.
  const proxies = config.limits.trustedProxies.length > 0 ? config.limits.trustedProxies : false;

  const server = new SMTPServer({
    name: config.hostname,
    banner: "Passerelle ESMTP",
    logger: false,
    disableReverseLookup: true,
    authOptional: true,
    disabledCommands: config.tls ? ["AUTH"] : ["AUTH", "STARTTLS"],
    hideSTARTTLS: !config.tls,
    ...(config.tls ? { key: config.tls.key, cert: config.tls.cert } : {}),
    size: config.maxSize,
    // smtp-server would answer a too-large SIZE= itself, without the RFC 3463 code; onMailFrom does it.
    // EHLO then advertises SIZE without its number (RFC 1870 §4 allows it).
    hideSize: true,
    // smtp-server answers `421` to clients past maxClients, to early talkers (before the greeting), to
    // `GET / HTTP/1.1`, to lines over maxCommandLength, and after ten unrecognised commands (nine 500s).
    maxClients: config.maxClients,
    maxCommandLength: MAX_COMMAND_LINE,
    useXClient: proxies as boolean,
    useXForward: proxies as boolean,
    closeTimeout: 30_000,
    // RFC 2034: EHLO says ENHANCEDSTATUSCODES only when every reply carries one (smtp-server-adapter.ts).
    hideENHANCEDSTATUSCODES: !ADAPTER_APPLIES,

    onConnect(session, callback) {
      if (closing) return callback(replies.shuttingDown());
      callback(guard.admit(session));
    },

    onClose(session) {
      guard.release(session);
    },

    onSecure(socket, session, callback) {
      guard.secured(session, socket);
      callback();
    },

    onMailFrom(address: SMTPServerAddress, session: SMTPServerSession, callback) {
      if (CONTROL.test(address.address)) {
        deps.onRefused?.("sender syntax");
        return callback(replies.badSender());
      }
      const declared = Number(address.args && (address.args as Record<string, string>).SIZE);
      if (declared > config.maxSize) return callback(replies.tooBig(config.maxSize));
      const full = memory.admit(session, Number.isSafeInteger(declared) && declared > 0 ? declared : 0);
      if (full) {
        deps.onRefused?.("memory");
        return callback(full);
      }
      recipients.set(session.envelope, []);
      greeting.passed(session.remoteAddress);
      callback();
    },

    onRcptTo(address: SMTPServerAddress, session: SMTPServerSession, callback) {
      const accepted = recipients.get(session.envelope) ?? [];
      const refuse = (reply: SmtpReply, reason: string) => {
        log.info({ session: session.id, rcpt: address.address, reason, code: reply.responseCode }, "recipient refused");
        deps.onRefused?.(`rcpt ${reason}`);
        callback(reply);
      };
      const rcpt = CONTROL.test(address.address) ? null : parseMailAddress(withPostmasterDomain(address.address, config.mailDomains[0]));
      if (!rcpt) return refuse(replies.badRecipient(), "syntax");
      if (!domains.has(domainOf(rcpt))) return refuse(replies.relayDenied(), "foreign domain");
      if (accepted.length >= config.maxRecipients) return refuse(replies.tooManyRecipients(config.maxRecipients), "limit");
      guard.busy(session, deps.findRecipient(rcpt)).then((mailbox) => {
        if (!mailbox || !mailbox.enabled) return refuse(replies.noMailbox(), mailbox ? "disabled" : "unknown");
        // docs/design.md §Spam: the envelope sender is known here; the list came with the mailbox lookup.
        const sender = session.envelope.mailFrom ? session.envelope.mailFrom.address.toLowerCase() : "";
        if (sender && mailbox.blocked?.length && mailbox.blocked.includes(senderHash(sender))) return refuse(replies.blockedSender(), "blocked");
        if (!accepted.some((m) => key(m) === key(mailbox))) accepted.push(mailbox);
        recipients.set(session.envelope, accepted);
        callback();
      }, (err: Error) => {
        log.error({ session: session.id, err: err.message }, "mailbox lookup failed");
        callback(replies.tryLater());
      });
    },

    onData(stream: SMTPServerDataStream, session: SMTPServerSession, callback) {
      void receiveData(stream, session, { maxSize: config.maxSize, memory, guard, log }).then((received) => {
        if (!received.ok) {
          deps.onRefused?.(received.reason);
          return callback(received.reply);
        }
        const { raw, size, release } = received;
        const hops = countReceived(raw);
        if (hops >= config.maxHops) {
          release();
          log.info({ session: session.id, hops }, "message refused: too many hops");
          deps.onRefused?.("hops");
          return callback(replies.tooManyHops(hops));
        }
        const envelope: Envelope = {
          mailFrom: session.envelope.mailFrom ? session.envelope.mailFrom.address : "",
          recipients: recipients.get(session.envelope) ?? [],
          remoteAddress: session.remoteAddress ?? null,
          helo: session.hostNameAppearsAs ?? null,
        };
        const job = guard.busy(session, deps.accept(envelope, raw)).then(({ token }) => {
          log.info({ session: session.id, queueId: token, size, from: envelope.mailFrom,
            rcpt: envelope.recipients.map((r) => r.address) }, "message accepted");
          callback(null, queuedAs(token));
        }, (err: Error) => {
          log.error({ session: session.id, err: err.message }, "message not stored; answered 451");
          // The parse pool's queue was full (mail/parse-pool.ts): the same answer as a full budget.
          callback(err instanceof SmtpReply ? err : err instanceof BudgetSpent ? insufficientStorage() : replies.tryLater());
        });
        inFlight.add(job);
        void job.finally(() => {
          release();
          inFlight.delete(job);
        });
      });
    },
  });

  // smtp-server's own 100 ms wait, then remembered per address (Postfix postscreen_greet_ttl).
  const greeting = createGreetingPolicy({ waitMs: 100, passTtlMs: config.greetPassMs, max: 10_000 }, { now: Date.now });
  if (!adaptConnections(server, (address) => greeting.waitFor(address))) {
    log.warn({ installed: installedSmtpServerVersion, expected: SMTP_SERVER_VERSION },
      "smtp-server is not the version the adapter was written for: every greeting waits 100 ms, its own replies carry no RFC 3463 code");
  }
  guard.attach(server);
  server.on("error", (err) => log.error({ err: err.message }, "smtp listener error"));

  return {
    listen: () => new Promise((resolve, reject) => {
      server.server.once("error", reject);
      server.listen(config.listen.port, config.listen.host, () => {
        server.server.off("error", reject);
        resolve(server.server.address() as AddressInfo);
      });
    }),
    close: async (graceMs) => {
      closing = true;
      (server.options as { closeTimeout?: number }).closeTimeout = graceMs;
      await new Promise<void>((resolve) => server.close(() => resolve()));
      guard.stop();
      await Promise.allSettled([...inFlight]);
    },
  };
}
