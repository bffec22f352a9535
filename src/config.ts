// Typed configuration from the environment (design: Configuration). One message names every problem.
import { createPrivateKey } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { parseEnv } from "node:util";
import { z } from "zod";
import type { SessionLimits } from "./smtp/limits.ts";

export interface Listen { host: string; port: number }

const listen = (fallback: string) =>
  z.string().default(fallback).transform((value, ctx): Listen => {
    const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\s]+)):(\d{1,5})$/.exec(value.trim());
    const port = m ? Number(m[3]) : NaN;
    if (!m || port > 65535) {
      ctx.addIssue({ code: "custom", message: `expected host:port, got "${value}"` });
      return z.NEVER;
    }
    return { host: m[1] ?? m[2] ?? "", port };
  });

const url = (protocols: string[], what: string) =>
  z.string().trim().refine((value) => {
    try {
      return protocols.includes(new URL(value).protocol);
    } catch {
      return false;
    }
  }, `expected ${what}`);

const domain = z.string().trim().toLowerCase()
  .regex(/^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/, "expected a domain name");

const bytes = (fallback: number) => z.coerce.number().int().positive().default(fallback);

const schema = z.object({
  DATABASE_URL: url(["postgres:", "postgresql:"], "postgres://user@host:port/db").optional(),
  DATA_DIR: z.string().default("./data"),
  MAIL_DOMAINS: z.string({ error: "required: comma list of mail domains" })
    .transform((v) => v.split(",").map((d) => d.trim().toLowerCase()).filter(Boolean))
    .pipe(z.array(domain).min(1, "at least one domain")),
  SMTP_LISTEN: listen("0.0.0.0:2525"),
  SMTP_HOSTNAME: z.string().trim().optional(),
  SMTP_TLS_CERT: z.string().optional(),
  SMTP_TLS_KEY: z.string().optional(),
  SMTP_MAX_SIZE: bytes(25 * 1024 * 1024),
  SMTP_MAX_RECIPIENTS: bytes(100),
  SMTP_MAX_CLIENTS: bytes(1000),
  // Postfix smtpd_client_connection_count_limit (50): simultaneous sessions from one address.
  SMTP_MAX_PER_IP: bytes(50),
  SMTP_SESSION_TIMEOUT: z.coerce.number().int().positive().default(1800),
  // Postfix smtpd_min_data_rate (500 bytes/s), judged over SMTP_RATE_WINDOW seconds.
  SMTP_MIN_DATA_RATE: z.coerce.number().int().nonnegative().default(500),
  SMTP_RATE_WINDOW: z.coerce.number().int().positive().default(30),
  SMTP_TRUSTED_PROXIES: z.string().default("")
    .transform((v) => v.split(",").map((a) => a.trim()).filter(Boolean))
    .pipe(z.array(z.union([z.ipv4(), z.ipv6()], "expected IP addresses"))),
  // Postfix hop_count_limit (50): `Received:` fields that make a mail a loop.
  SMTP_MAX_HOPS: bytes(50),
  PARSE_TIMEOUT_MS: z.coerce.number().int().positive().default(10_000),
  PARSE_MEMORY_MB: z.coerce.number().int().min(16).default(256),
  SMTP_RELAY: url(["smtp:", "smtps:"], "smtp://[user:pass@]host:port or smtps://…").optional(),
  XMPP_SERVICE: url(["xmpp:", "xmpps:"], "xmpp://host:port").default("xmpp://localhost:5347"),
  // Required for serve and check; loadConfig says so (zod skips refinements of absent keys).
  XMPP_DOMAIN: domain.optional(),
  // The XEP-0114 handshake hashes the secret as latin1 in xmpp.js: only ASCII survives both ends.
  XMPP_SECRET: z.string().regex(/^[\x20-\x7E]+$/, "must be printable ASCII").optional(),
  HTTP_LISTEN: listen("127.0.0.1:8080"),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  RELAY_RETRY_SCHEDULE: z.string().default("30,60,300,900,1800,3600")
    .transform((v) => v.split(",").map((x) => Number(x.trim())))
    .pipe(z.array(z.number().int().positive()).min(1, "comma list of seconds")),
  RELAY_MAX_AGE: z.coerce.number().int().positive().default(2 * 24 * 3600),
  // Outgoing mail per mailbox; 0 turns a limit off.
  SEND_LIMIT_PER_MINUTE: z.coerce.number().int().nonnegative().default(10),
  SEND_LIMIT_PER_DAY: z.coerce.number().int().nonnegative().default(200),
  DKIM_SELECTOR: z.string().trim().regex(/^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?$/, "expected a DNS label such as mail2026").optional(),
  DKIM_PRIVATE_KEY: z.string().optional(),
  DKIM_PRIVATE_KEY_FILE: z.string().optional(),
  // XEP-0077 self-service mailboxes for accounts of these XMPP domains; unset: off.
  SELF_SERVICE_DOMAINS: z.string().default("")
    .transform((v) => v.split(",").map((d) => d.trim().toLowerCase()).filter(Boolean))
    .pipe(z.array(domain)),
  // Bare JIDs allowed to run the admin commands (XEP-0050).
  ADMIN_JIDS: z.string().default("")
    .transform((v) => v.split(",").map((d) => d.trim().toLowerCase()).filter(Boolean))
    .pipe(z.array(z.string().regex(/^[^@/\s]+@[^@/\s]+$/, "expected bare JIDs such as admin@example.org"))),
  // Sender authentication of inbound mail (SPF, DKIM, DMARC, ARC): mark unverified mail, or also refuse
  // DMARC failures with p=reject/quarantine (strict), or not at all (off: another MTA in front did it).
  AUTH_MODE: z.enum(["off", "mark", "strict"]).default("mark"),
  // Resolvers for those checks, `ip[:port]` comma list; unset: the system's.
  DNS_SERVERS: z.string().default("")
    .transform((v) => v.split(",").map((d) => d.trim()).filter(Boolean))
    .pipe(z.array(z.string().regex(/^(\d{1,3}(\.\d{1,3}){3}(:\d{1,5})?|\[[0-9a-fA-F:]+\](:\d{1,5})?|[0-9a-fA-F:]+)$/, "expected IP[:port] addresses"))),
  // How long a worker holds claimed deliveries; after a crash they wait this long for another worker.
  QUEUE_LEASE_SECONDS: z.coerce.number().int().min(1).max(3600).default(120),
  // XEP-0363 upload service of the XMPP server (e.g. upload.jabber.example.org): attachments go there.
  XMPP_UPLOAD_SERVICE: domain.optional(),
  ATTACHMENT_MAX_BYTES: bytes(10 * 1024 * 1024),
  // MIME type patterns forwarded as files (image/*, application/pdf, *); programs never are.
  ATTACHMENT_TYPES: z.string().default("*")
    .transform((v) => v.split(",").map((d) => d.trim().toLowerCase()).filter(Boolean))
    .pipe(z.array(z.string().regex(/^(\*|[a-z0-9.+-]+\/(\*|[a-z0-9.+-]+))$/, "expected MIME types such as image/*")).min(1)),
  // Hosts chat attachments may be fetched from for outgoing mail (the upload service's HTTP host).
  FETCH_HOSTS: z.string().default("")
    .transform((v) => v.split(",").map((d) => d.trim().toLowerCase()).filter(Boolean))
    .pipe(z.array(z.string().regex(/^[a-z0-9.-]+(:\d{1,5})?$|^\[[0-9a-f:]+\](:\d{1,5})?$/, "expected host[:port] names"))),
  // Full mail on the web (issue #4): the public base of HTTP_LISTEN (behind a TLS reverse proxy); unset:
  // no links. A path is allowed when the proxy strips it; a query or fragment is not.
  PUBLIC_URL: url(["http:", "https:"], "http(s)://host[/path], the gateway's public web address")
    .refine((v) => !/[?#]/.test(v), "no query or fragment").transform((v) => v.replace(/\/+$/, "")).optional(),
  WEB_LINK_DAYS: z.coerce.number().int().min(1).max(3650).default(30),
  CHAT_MAX_BYTES: bytes(16 * 1024).refine((v) => v <= 256 * 1024, "at most 262144 (stanza limit)"),
});

type Env = z.output<typeof schema>;

export interface Config {
  databaseUrl: string | undefined;
  dataDir: string;
  mailDomains: string[];
  smtp: {
    listen: Listen; hostname: string; tls: { cert: string; key: string } | null;
    maxSize: number; maxRecipients: number; maxClients: number; maxHops: number;
    limits: SessionLimits;
  };
  /** mail parsing in worker threads (src/mail/parse-pool.ts) */
  parse: { timeoutMs: number; memoryMb: number };
  relayUrl: string | undefined;
  /** seconds between attempts (the last repeats) and how long to keep trying, for outgoing mail */
  relayRetry: { schedule: number[]; maxAgeSeconds: number };
  xmpp: { service: string; domain: string; secret: string };
  httpListen: Listen;
  logLevel: Env["LOG_LEVEL"];
  chatMaxBytes: number;
  /** outgoing mail a mailbox may send; 0 = no limit */
  sendLimit: { perMinute: number; perDay: number };
  /** XMPP domains whose accounts may register a mailbox (XEP-0077); empty: registration off */
  selfServiceDomains: string[];
  adminJids: string[];
  auth: { mode: "off" | "mark" | "strict"; dnsServers: string[] };
  leaseSeconds: number;
  attachments: { uploadService: string | null; maxBytes: number; types: string[]; fetchHosts: string[] };
  /** DKIM signing of outgoing mail (RFC 6376), off when null */
  dkim: { selector: string; privateKey: string } | null;
  /** links to `GET /m/<token>`: PUBLIC_URL (null: no links) and how many days a link lives */
  web: { publicUrl: string | null; linkDays: number };
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
  let tls: Config["smtp"]["tls"] = null;
  if (result.success && given.SMTP_TLS_CERT && given.SMTP_TLS_KEY) {
    try {
      tls = { cert: readFileSync(given.SMTP_TLS_CERT, "utf8"), key: readFileSync(given.SMTP_TLS_KEY, "utf8") };
    } catch (err) {
      issues.push(`SMTP_TLS_CERT/SMTP_TLS_KEY: cannot read: ${(err as Error).message}`);
    }
  }
  const dkim = scope === "all" && result.success ? readDkim(given, issues) : null;
  if (issues.length > 0 || !result.success) {
    throw new ConfigError(`configuration is not valid:\n  ${issues.join("\n  ")}`);
  }
  return toConfig(result.data, tls, dkim);
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
      limits: {
        sessionTimeoutMs: e.SMTP_SESSION_TIMEOUT * 1000,
        minDataRate: e.SMTP_MIN_DATA_RATE,
        rateWindowMs: e.SMTP_RATE_WINDOW * 1000,
        maxPerIp: e.SMTP_MAX_PER_IP,
        trustedProxies: e.SMTP_TRUSTED_PROXIES,
      },
    },
    parse: { timeoutMs: e.PARSE_TIMEOUT_MS, memoryMb: e.PARSE_MEMORY_MB },
    relayUrl: e.SMTP_RELAY,
    relayRetry: { schedule: e.RELAY_RETRY_SCHEDULE, maxAgeSeconds: e.RELAY_MAX_AGE },
    xmpp: { service: e.XMPP_SERVICE, domain: e.XMPP_DOMAIN ?? "", secret: e.XMPP_SECRET ?? "" },
    httpListen: e.HTTP_LISTEN,
    logLevel: e.LOG_LEVEL,
    chatMaxBytes: e.CHAT_MAX_BYTES,
    sendLimit: { perMinute: e.SEND_LIMIT_PER_MINUTE, perDay: e.SEND_LIMIT_PER_DAY },
    selfServiceDomains: e.SELF_SERVICE_DOMAINS,
    adminJids: e.ADMIN_JIDS,
    auth: { mode: e.AUTH_MODE, dnsServers: e.DNS_SERVERS },
    leaseSeconds: e.QUEUE_LEASE_SECONDS,
    attachments: { uploadService: e.XMPP_UPLOAD_SERVICE ?? null, maxBytes: e.ATTACHMENT_MAX_BYTES,
      types: e.ATTACHMENT_TYPES, fetchHosts: e.FETCH_HOSTS },
    dkim,
    web: { publicUrl: e.PUBLIC_URL ?? null, linkDays: e.WEB_LINK_DAYS },
  };
}
