// Typed configuration from the environment (docs/design.md §Contract, Configuration). One message names every problem.
import { createPrivateKey } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { parseEnv } from "node:util";
import { schema, type Env, type Listen } from "./config-schema.ts";
import type { SessionLimits } from "./smtp/limits.ts";
import type { StanzaLimits } from "./xmpp/link-api.ts";
import type { WebClientLimits } from "./web/clients.ts";

export type { Listen };

export interface Config {
  databaseUrl: string | undefined;
  dataDir: string;
  mailDomains: string[];
  smtp: {
    listen: Listen; hostname: string; tls: { cert: string; key: string } | null;
    maxSize: number; maxRecipients: number; maxClients: number; maxHops: number; greetPassMs: number;
    limits: SessionLimits;
    /** message data held by SMTP transactions until answered (src/smtp/memory.ts) */
    memory: { totalBytes: number; perClientBytes: number };
  };
  /** mail parsing in worker threads (src/mail/parse-pool.ts); `maxQueued` mails may wait for a thread */
  parse: { timeoutMs: number; memoryMb: number; threads: number; maxQueued: number };
  /** building a web page in worker threads (src/web/page-pool.ts); the heap is PARSE_MEMORY_MB */
  page: { timeoutMs: number };
  relayUrl: string | undefined;
  /** seconds between attempts (the last repeats) and how long to keep trying, for outgoing mail */
  relayRetry: { schedule: number[]; maxAgeSeconds: number };
  xmpp: {
    service: string; domain: string; secret: string; keepaliveMs: number;
    rooms: { quietMs: number; joinTimeoutMs: number; perRoom: number; total: number };
    /** XEP-0050 sessions and request rates (docs/design.md §Budgets) */
    commands: { sessionsPerUser: number; sessions: number; perMinute: number; perDomainPerMinute: number; homeDomains: string[] };
    stanzas: StanzaLimits;
    /** XEP-0356: domains whose permission announcements are trusted */
    serverDomains: string[];
  };
  /** XEP-0356 roster items for correspondents (docs/design.md §Roster and privileges) */
  roster: { group: string; queueMax: number };
  httpListen: Listen;
  /** budgets of the HTTP listener and its web clients (docs/design.md §Budgets, Web clients) */
  http: { clients: WebClientLimits; maxConnections: number; headersTimeoutMs: number };
  logLevel: Env["LOG_LEVEL"];
  chatMaxBytes: number;
  /** outgoing mail a mailbox may send; 0 = no limit */
  sendLimit: { perMinute: number; perDay: number };
  /** XMPP domains whose accounts may register a mailbox (XEP-0077); empty: registration off */
  selfServiceDomains: string[];
  /** the characters of a self-service name (src/core/precis.ts) */
  selfServiceNames: "ascii" | "unicode";
  /** mail domains where a self-service account may choose a name other than its own */
  selfServiceFreeNames: string[];
  adminJids: string[];
  /** RECIPIENT_DELIMITER: the characters that end a subaddress's mailbox part; "" off (src/core/recipients.ts) */
  recipientDelimiters: string;
  auth: { mode: "off" | "mark" | "strict"; dnsServers: string[]; timeoutMs: number; memoryMb: number };
  leaseSeconds: number;
  attachments: { uploadService: string | null; maxBytes: number; types: string[]; fetchHosts: string[];
    fetchPerUser: number; fetchMemoryBytes: number };
  /** DKIM signing of outgoing mail (RFC 6376), off when null */
  dkim: { selector: string; privateKey: string } | null;
  /** links to `GET /m/<token>`: PUBLIC_URL (null: no links) and how many days a link lives */
  web: { publicUrl: string | null; linkDays: number };
  /** content filtering by rspamd (mail/rspamd.ts), off when null */
  rspamd: { url: string; controllerUrl: string | null; password: string | null; timeoutMs: number;
    unavailable: "tempfail" | "accept"; maxConcurrent: number } | null;
  /** docs/design.md §What is stored: days a mail's content, then its threading data, are kept; the pruner's step */
  retention: { days: number; threadDays: number; batch: number; pauseMs: number };
}

export class ConfigError extends Error {
  override name = "ConfigError";
}

/** The environment plus a `.env` file in the working directory; real variables win over the file. */
export function readEnvironment(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): NodeJS.ProcessEnv {
  const file = resolve(cwd, ".env");
  if (!existsSync(file)) return env;
  return { ...parseEnv(readFileSync(file, "utf8")), ...env };
}

/** Which variables a command needs: the CLI's database commands do not need the XMPP secret. */
export type ConfigScope = "all" | "database";

const MIB = 1024 * 1024;

const DATABASE_KEYS = ["DATABASE_URL", "DATA_DIR", "MAIL_DOMAINS", "LOG_LEVEL"];

export function loadConfig(env: NodeJS.ProcessEnv, scope: ConfigScope = "all"): Config {
  // `VAR=` (empty) means unset, as in compose files that pass optional variables through. The database
  // commands read only their own variables: the others take their defaults and cannot fail them.
  const given = Object.fromEntries(Object.entries(env)
    .filter(([k, v]) => v !== "" && v !== undefined && (scope === "all" || DATABASE_KEYS.includes(k))));
  const result = schema.safeParse(given);
  const issues = result.success ? [] : result.error.issues.map((i) => `${String(i.path[0])}: ${i.message}`);
  if (scope === "all") {
    if (!given.XMPP_DOMAIN) issues.push("XMPP_DOMAIN: required: the component's domain, e.g. mail.example.org");
    if (!given.XMPP_SECRET) issues.push("XMPP_SECRET: required: the component secret shared with the XMPP server");
    if (Boolean(given.SMTP_TLS_CERT) !== Boolean(given.SMTP_TLS_KEY)) issues.push("SMTP_TLS_CERT and SMTP_TLS_KEY: set both or neither");
  }
  if (result.success) issues.push(...freeNameIssues(result.data));
  let tls: Config["smtp"]["tls"] = null;
  if (result.success && given.SMTP_TLS_CERT && given.SMTP_TLS_KEY) {
    try {
      tls = { cert: readFileSync(given.SMTP_TLS_CERT, "utf8"), key: readFileSync(given.SMTP_TLS_KEY, "utf8") };
    } catch (err) {
      issues.push(`SMTP_TLS_CERT/SMTP_TLS_KEY: cannot read: ${(err as Error).message}`);
    }
  }
  const dkim = scope === "all" && result.success ? readDkim(given, issues) : null;
  // A mail of SMTP_MAX_SIZE that could never fit would be answered 451 forever.
  if (result.success && result.data.SMTP_MEMORY_MB * MIB < result.data.SMTP_MAX_SIZE) issues.push("SMTP_MEMORY_MB: must hold at least one mail of SMTP_MAX_SIZE");
  if (result.success && (result.data.SMTP_MEMORY_PER_CLIENT_MB ?? Infinity) * MIB < result.data.SMTP_MAX_SIZE) issues.push("SMTP_MEMORY_PER_CLIENT_MB: must hold at least one mail of SMTP_MAX_SIZE");
  // A link given out must find its page; a mail cleared of its text keeps its threading data.
  if (result.success && result.data.RETENTION_DAYS < result.data.WEB_LINK_DAYS) issues.push(`RETENTION_DAYS: must be at least WEB_LINK_DAYS (${result.data.WEB_LINK_DAYS}): a link must not outlive its mail`);
  if (result.success && result.data.THREAD_DAYS < result.data.RETENTION_DAYS) issues.push(`THREAD_DAYS: must be at least RETENTION_DAYS (${result.data.RETENTION_DAYS})`);
  if (issues.length > 0 || !result.success) {
    throw new ConfigError(`configuration is not valid:\n  ${issues.join("\n  ")}`);
  }
  return toConfig(result.data, tls, dkim);
}

/**
 * A free-name domain is one of ours whose names are not XMPP accounts' names: not the component's domain
 * nor an XMPP domain of SELF_SERVICE_DOMAINS, where a chosen name would take an account's address.
 */
function freeNameIssues(e: Env): string[] {
  return e.SELF_SERVICE_FREE_NAMES.flatMap((d) => {
    if (!e.MAIL_DOMAINS.includes(d)) return [`SELF_SERVICE_FREE_NAMES: ${d} is not one of MAIL_DOMAINS`];
    if (e.SELF_SERVICE_DOMAINS.includes(d) || d === e.XMPP_DOMAIN) {
      return [`SELF_SERVICE_FREE_NAMES: ${d} is an XMPP domain: its names belong to its accounts`];
    }
    return [];
  });
}

/** DKIM_SELECTOR with the key given inline or as a file (Docker/Kubernetes secrets); the key must parse. */
function readDkim(given: Record<string, string | undefined>, issues: string[]): Config["dkim"] {
  const { DKIM_SELECTOR: selector, DKIM_PRIVATE_KEY: inline, DKIM_PRIVATE_KEY_FILE: file } = given;
  if (!selector && !inline && !file) return null;
  if (inline && file) {
    issues.push("DKIM_PRIVATE_KEY and DKIM_PRIVATE_KEY_FILE: set one, not both");
    return null;
  }
  if (!selector || (!inline && !file)) {
    issues.push("DKIM_SELECTOR and DKIM_PRIVATE_KEY (or DKIM_PRIVATE_KEY_FILE): set both to sign, or neither");
    return null;
  }
  let privateKey: string;
  try {
    // A PEM passed through an environment variable often arrives with literal "\n".
    privateKey = file ? readFileSync(file, "utf8") : inline!.replace(/\\n/g, "\n");
  } catch (err) {
    issues.push(`DKIM_PRIVATE_KEY_FILE: cannot read: ${(err as Error).message}`);
    return null;
  }
  const name = `DKIM_PRIVATE_KEY${file ? "_FILE" : ""}`;
  try {
    // nodemailer signs rsa-sha256 only (RFC 6376 §3.3); RFC 8301 wants at least 1024 bits, 2048 advised.
    const key = createPrivateKey(privateKey);
    if (key.asymmetricKeyType !== "rsa") issues.push(`${name}: an RSA key is needed, this is ${key.asymmetricKeyType}`);
    else if ((key.asymmetricKeyDetails?.modulusLength ?? 0) < 1024) issues.push(`${name}: RSA keys under 1024 bits are refused by verifiers (RFC 8301)`);
  } catch (err) {
    issues.push(`${name}: not a usable private key (${(err as Error).message})`);
    return null;
  }
  return { selector, privateKey };
}

function toConfig(e: Env, tls: Config["smtp"]["tls"], dkim: Config["dkim"]): Config {
  return {
    databaseUrl: e.DATABASE_URL,
    dataDir: resolve(e.DATA_DIR),
    mailDomains: e.MAIL_DOMAINS,
    smtp: {
      listen: e.SMTP_LISTEN,
      hostname: e.SMTP_HOSTNAME ?? e.XMPP_DOMAIN ?? e.MAIL_DOMAINS[0] ?? "localhost",
      tls,
      maxSize: e.SMTP_MAX_SIZE,
      maxRecipients: e.SMTP_MAX_RECIPIENTS,
      maxClients: e.SMTP_MAX_CLIENTS,
      maxHops: e.SMTP_MAX_HOPS,
      greetPassMs: e.SMTP_GREET_PASS_SECONDS * 1000,
      limits: {
        sessionTimeoutMs: e.SMTP_SESSION_TIMEOUT * 1000,
        minDataRate: e.SMTP_MIN_DATA_RATE,
        rateWindowMs: e.SMTP_RATE_WINDOW * 1000,
        maxPerIp: e.SMTP_MAX_PER_IP,
        trustedProxies: e.SMTP_TRUSTED_PROXIES,
      },
      memory: {
        totalBytes: e.SMTP_MEMORY_MB * MIB,
        perClientBytes: Math.min(e.SMTP_MEMORY_MB * MIB, e.SMTP_MEMORY_PER_CLIENT_MB !== undefined
          ? e.SMTP_MEMORY_PER_CLIENT_MB * MIB : Math.max(e.SMTP_MEMORY_MB * MIB / 4, e.SMTP_MAX_SIZE)),
      },
    },
    parse: { timeoutMs: e.PARSE_TIMEOUT_MS, memoryMb: e.PARSE_MEMORY_MB, threads: e.PARSE_THREADS, maxQueued: e.PARSE_QUEUE_MAX },
    page: { timeoutMs: e.PAGE_TIMEOUT_MS },
    relayUrl: e.SMTP_RELAY,
    relayRetry: { schedule: e.RELAY_RETRY_SCHEDULE, maxAgeSeconds: e.RELAY_MAX_AGE },
    xmpp: { service: e.XMPP_SERVICE, domain: e.XMPP_DOMAIN ?? "", secret: e.XMPP_SECRET ?? "", keepaliveMs: e.XMPP_KEEPALIVE_SECONDS * 1000,
      rooms: { quietMs: e.ROOM_QUIET_SECONDS * 1000, joinTimeoutMs: 10_000, perRoom: e.ROOM_OCCUPANTS_PER_ROOM, total: e.ROOM_OCCUPANTS },
      commands: { sessionsPerUser: e.COMMAND_SESSIONS_PER_USER, sessions: e.COMMAND_SESSIONS, perMinute: e.COMMAND_RATE_PER_MINUTE,
        perDomainPerMinute: e.COMMAND_RATE_PER_DOMAIN_PER_MINUTE,
        // the users' own servers: the component's parent domain, self-service and administrators' domains
        homeDomains: [(e.XMPP_DOMAIN ?? "").replace(/^[^.]*\./, ""), ...e.SELF_SERVICE_DOMAINS, ...e.ADMIN_JIDS.map((j) => j.split("@")[1] ?? "")] },
      stanzas: { senderPerMinute: e.XMPP_SENDER_PER_MINUTE, subscriptionsPerMinute: e.XMPP_SUBSCRIPTIONS_PER_MINUTE,
        domainPerMinute: e.XMPP_DOMAIN_PER_MINUTE, senderQueue: e.XMPP_SENDER_QUEUE, pendingMax: e.XMPP_PENDING_MAX },
      serverDomains: e.XMPP_SERVER_DOMAINS.length > 0 ? e.XMPP_SERVER_DOMAINS : [(e.XMPP_DOMAIN ?? "").replace(/^[^.]*\./, "")] },
    roster: { group: e.ROSTER_GROUP, queueMax: e.ROSTER_QUEUE_MAX },
    httpListen: e.HTTP_LISTEN,
    http: { clients: { trustedProxies: e.HTTP_TRUSTED_PROXIES, ratePerMinute: e.HTTP_RATE_PER_MINUTE, maxInFlight: e.HTTP_CLIENT_CONCURRENT,
      maxConnections: e.HTTP_CONNECTIONS_PER_CLIENT }, maxConnections: e.HTTP_MAX_CONNECTIONS, headersTimeoutMs: e.HTTP_HEADERS_TIMEOUT_MS },
    logLevel: e.LOG_LEVEL,
    chatMaxBytes: e.CHAT_MAX_BYTES,
    sendLimit: { perMinute: e.SEND_LIMIT_PER_MINUTE, perDay: e.SEND_LIMIT_PER_DAY },
    selfServiceDomains: e.SELF_SERVICE_DOMAINS,
    selfServiceNames: e.SELF_SERVICE_NAMES,
    selfServiceFreeNames: e.SELF_SERVICE_FREE_NAMES,
    adminJids: e.ADMIN_JIDS,
    recipientDelimiters: e.RECIPIENT_DELIMITER,
    auth: { mode: e.AUTH_MODE, dnsServers: e.DNS_SERVERS, timeoutMs: e.AUTH_TIMEOUT_MS, memoryMb: e.AUTH_MEMORY_MB },
    leaseSeconds: e.QUEUE_LEASE_SECONDS,
    attachments: { uploadService: e.XMPP_UPLOAD_SERVICE ?? null, maxBytes: e.ATTACHMENT_MAX_BYTES,
      types: e.ATTACHMENT_TYPES, fetchHosts: e.FETCH_HOSTS, fetchPerUser: e.FETCH_PER_USER, fetchMemoryBytes: e.FETCH_MEMORY_BYTES },
    dkim,
    web: { publicUrl: e.PUBLIC_URL ?? null, linkDays: e.WEB_LINK_DAYS },
    rspamd: e.RSPAMD_URL ? { url: e.RSPAMD_URL, controllerUrl: e.RSPAMD_CONTROLLER_URL ?? null, password: e.RSPAMD_PASSWORD ?? null,
      timeoutMs: e.RSPAMD_TIMEOUT_MS, unavailable: e.RSPAMD_UNAVAILABLE, maxConcurrent: e.RSPAMD_MAX_CONCURRENT } : null,
    retention: { days: e.RETENTION_DAYS, threadDays: e.THREAD_DAYS, batch: e.PRUNE_BATCH, pauseMs: e.PRUNE_PAUSE_MS },
  };
}
