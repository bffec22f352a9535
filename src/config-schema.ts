// The environment variables as a zod schema (docs/design.md §Contract, Configuration): names, defaults, formats.
import { z } from "zod";
import { DELIMITER_CHARS } from "./core/recipients.ts";

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

/** A comma list (`a, b,c`), items trimmed, empty ones dropped, lower-cased unless `keepCase`. */
const commaList = (keepCase = false) => z.string().default("")
  .transform((v) => v.split(",").map((d) => (keepCase ? d.trim() : d.trim().toLowerCase())).filter(Boolean));

export const schema = z.object({
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
  // Postfix postscreen_greet_ttl: a client that waited for the greeting once is greeted at once this long.
  SMTP_GREET_PASS_SECONDS: z.coerce.number().int().nonnegative().default(86400),
  SMTP_SESSION_TIMEOUT: z.coerce.number().int().positive().default(1800),
  // Postfix smtpd_min_data_rate (500 bytes/s), judged over SMTP_RATE_WINDOW seconds.
  SMTP_MIN_DATA_RATE: z.coerce.number().int().nonnegative().default(500),
  SMTP_RATE_WINDOW: z.coerce.number().int().positive().default(30),
  SMTP_TRUSTED_PROXIES: commaList(true)
    .pipe(z.array(z.union([z.ipv4(), z.ipv6()], "expected IP addresses"))),
  // Postfix hop_count_limit (50): `Received:` fields that make a mail a loop.
  SMTP_MAX_HOPS: bytes(50),
  // Message data SMTP transactions may hold until answered, in all and per client address (default a
  // quarter of it, at least one SMTP_MAX_SIZE mail); past it `451 4.3.1` (src/smtp/memory.ts).
  SMTP_MEMORY_MB: z.coerce.number().int().min(1).default(256),
  SMTP_MEMORY_PER_CLIENT_MB: z.coerce.number().int().min(1).optional(),
  // Parser worker threads, and mails that may wait for one (past it `451 4.3.1`): 50 waiting for two
  // threads of 10 s wait at most 250 s, under half of a client's 10 minutes for the answer to DATA (RFC
  // 5321 §4.5.3.2.6).
  PARSE_THREADS: z.coerce.number().int().min(1).max(64).default(2),
  PARSE_QUEUE_MAX: z.coerce.number().int().min(1).default(50),
  PARSE_TIMEOUT_MS: z.coerce.number().int().positive().default(10_000),
  PARSE_MEMORY_MB: z.coerce.number().int().min(16).default(256),
  // Building a mail's web page (its HTML sanitized) in the page pool, before it is shown as plain text.
  PAGE_TIMEOUT_MS: z.coerce.number().int().positive().default(5_000),
  SMTP_RELAY: url(["smtp:", "smtps:"], "smtp://[user:pass@]host:port or smtps://…").optional(),
  XMPP_SERVICE: url(["xmpp:", "xmpps:"], "xmpp://host:port").default("xmpp://localhost:5347"),
  // Required for serve and check; loadConfig says so (zod skips refinements of absent keys).
  XMPP_DOMAIN: domain.optional(),
  // The XEP-0114 handshake hashes the secret as latin1 in xmpp.js: only ASCII survives both ends.
  XMPP_SECRET: z.string().regex(/^[\x20-\x7E]+$/, "must be printable ASCII").optional(),
  // The component link's keep-alive: a ping this often, the link dropped when one is not answered
  // within it, or when a socket is still connecting after it (docs/design.md §XMPP link).
  XMPP_KEEPALIVE_SECONDS: z.coerce.number().int().min(1).max(3600).default(30),
  ROOM_QUIET_SECONDS: z.coerce.number().int().min(1).max(86400).default(600),
  ROOM_OCCUPANTS_PER_ROOM: z.coerce.number().int().min(1).max(100).default(5),
  ROOM_OCCUPANTS: z.coerce.number().int().min(1).max(10000).default(200),
  // What one party may send the gateway and its contacts (docs/design.md §Budgets), a minute and at once:
  // stanzas per bare JID, subscription stanzas per bare JID, stanzas per remote domain; 0 turns one off.
  XMPP_SENDER_PER_MINUTE: z.coerce.number().int().nonnegative().default(300),
  XMPP_SUBSCRIPTIONS_PER_MINUTE: z.coerce.number().int().nonnegative().default(30),
  XMPP_DOMAIN_PER_MINUTE: z.coerce.number().int().nonnegative().default(3000),
  // Stanzas waiting to be handled: for one sender, and in all.
  XMPP_SENDER_QUEUE: z.coerce.number().int().min(1).default(100),
  XMPP_PENDING_MAX: z.coerce.number().int().min(1).default(1000),
  // XEP-0356: the server domains whose permission announcements we trust (bare domain JIDs, stamped by the
  // server); unset: the component's parent domain (mail.jabber.example → jabber.example).
  XMPP_SERVER_DOMAINS: commaList()
    .pipe(z.array(domain)),
  // XEP-0356 roster items for correspondents: their group, and pairs waiting to be looked at after
  // delivery (past it a mail's pair is skipped; the next mail of the pair tries again).
  ROSTER_GROUP: z.string().trim().min(1).max(64).default("E-mail"),
  ROSTER_QUEUE_MAX: z.coerce.number().int().min(1).default(1000),
  HTTP_LISTEN: listen("127.0.0.1:8080"),
  // Web clients (docs/design.md §Budgets, Web clients). Peers (addresses, networks) whose X-Forwarded-For names the client: by
  // default loopback, where the reverse proxy in front of the default HTTP_LISTEN runs; "none": no one.
  HTTP_TRUSTED_PROXIES: z.string().default("127.0.0.1,::1")
    .transform((v) => (v.trim().toLowerCase() === "none" ? [] : v.split(",").map((d) => d.trim()).filter(Boolean)))
    .pipe(z.array(z.union([z.ipv4(), z.ipv6(), z.cidrv4(), z.cidrv6()], "expected IP addresses or networks (10.0.0.0/8), or none"))),
  // Requests to /m/ and /presence/ per client a minute (a quarter of them at once; 0: no rate), and at once.
  HTTP_RATE_PER_MINUTE: z.coerce.number().int().nonnegative().default(300),
  HTTP_CLIENT_CONCURRENT: z.coerce.number().int().positive().default(8),
  // Open connections from one peer address (IPv6 by /64), and overall; a request's header within this long.
  HTTP_CONNECTIONS_PER_CLIENT: z.coerce.number().int().positive().default(16),
  HTTP_MAX_CONNECTIONS: z.coerce.number().int().positive().default(1000),
  HTTP_HEADERS_TIMEOUT_MS: z.coerce.number().int().min(100).max(120_000).default(10_000),
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
  SELF_SERVICE_DOMAINS: commaList()
    .pipe(z.array(domain)),
  // Which characters a self-service name may have: ASCII letters, digits, . - _ (ascii), or the PRECIS
  // letters and digits of one script (unicode, RFC 8265 §3.3; the receiving side must speak SMTPUTF8).
  SELF_SERVICE_NAMES: z.enum(["ascii", "unicode"]).default("ascii"),
  // Mail domains whose names are not XMPP accounts' names, where an account may choose any free name;
  // unset: each account gets only the mailbox of its own name.
  SELF_SERVICE_FREE_NAMES: commaList()
    .pipe(z.array(domain)),
  // Postfix recipient_delimiter: `toto+news@` reaches `toto@` (docs/design.md §Addresses); several
  // characters: any one of them (Postfix 2.11); `none`: off (empty is unset, as for every variable).
  // Only atext symbols: no letter, digit or dot.
  RECIPIENT_DELIMITER: z.string().default("+").transform((v) => (v.trim().toLowerCase() === "none" ? "" : v))
    .refine((v) => [...v].every((ch) => DELIMITER_CHARS.includes(ch)), `expected characters of ${DELIMITER_CHARS}, or none (off)`),
  // Bare JIDs allowed to run the admin commands (XEP-0050).
  ADMIN_JIDS: commaList()
    .pipe(z.array(z.string().regex(/^[^@/\s]+@[^@/\s]+$/, "expected bare JIDs such as admin@example.org"))),
  // XEP-0050 command sessions one account may hold (its oldest given up past them) and held overall
  // (past it, holders trade their oldest; administrators and accounts holding none still get one);
  // command requests a minute per account and per other server's domain (0: no limit).
  COMMAND_SESSIONS_PER_USER: z.coerce.number().int().min(1).max(100).default(5),
  COMMAND_SESSIONS: z.coerce.number().int().min(1).default(10_000),
  COMMAND_RATE_PER_MINUTE: z.coerce.number().int().nonnegative().default(30),
  COMMAND_RATE_PER_DOMAIN_PER_MINUTE: z.coerce.number().int().nonnegative().default(300),
  // Sender authentication of inbound mail (SPF, DKIM, DMARC, ARC): mark unverified mail, or also refuse
  // DMARC failures with p=reject/quarantine (strict), or not at all (off: another MTA in front did it).
  AUTH_MODE: z.enum(["off", "mark", "strict"]).default("mark"),
  // Resolvers for those checks, `ip[:port]` comma list; unset: the system's.
  DNS_SERVERS: commaList(true)
    .pipe(z.array(z.string().regex(/^(\d{1,3}(\.\d{1,3}){3}(:\d{1,5})?|\[[0-9a-fA-F:]+\](:\d{1,5})?|[0-9a-fA-F:]+)$/, "expected IP[:port] addresses"))),
  // Those checks run in a worker thread (src/mail/auth-pool.ts): time limit of one, heap of the thread.
  AUTH_TIMEOUT_MS: z.coerce.number().int().positive().default(30_000),
  AUTH_MEMORY_MB: z.coerce.number().int().min(16).default(128),
  // How long a worker holds claimed deliveries; after a crash they wait this long for another worker.
  QUEUE_LEASE_SECONDS: z.coerce.number().int().min(1).max(3600).default(30),
  // XEP-0363 upload service of the XMPP server (e.g. upload.jabber.example.org): attachments go there.
  XMPP_UPLOAD_SERVICE: domain.optional(),
  ATTACHMENT_MAX_BYTES: bytes(10 * 1024 * 1024),
  // Shared files one user's outgoing mails fetch at once; the user's next ones wait in order.
  FETCH_PER_USER: z.coerce.number().int().min(1).max(64).default(2),
  // Memory for fetched files and the mails composed from them, overall; past it fetches wait their turn.
  FETCH_MEMORY_BYTES: bytes(64 * 1024 * 1024),
  // MIME type patterns forwarded as files (image/*, application/pdf, *); programs never are.
  ATTACHMENT_TYPES: commaList().transform((v) => (v.length ? v : ["*"]))
    .pipe(z.array(z.string().regex(/^(\*|[a-z0-9.+-]+\/(\*|[a-z0-9.+-]+))$/, "expected MIME types such as image/*")).min(1)),
  // Hosts chat attachments may be fetched from for outgoing mail (the upload service's HTTP host).
  FETCH_HOSTS: commaList()
    .pipe(z.array(z.string().regex(/^[a-z0-9.-]+(:\d{1,5})?$|^\[[0-9a-f:]+\](:\d{1,5})?$/, "expected host[:port] names"))),
  // Full mail on the web: the public base of HTTP_LISTEN (behind a TLS reverse proxy); unset:
  // no links. A path is allowed when the proxy strips it; a query or fragment is not.
  PUBLIC_URL: url(["http:", "https:"], "http(s)://host[/path], the gateway's public web address")
    .refine((v) => !/[?#]/.test(v), "no query or fragment").transform((v) => v.replace(/\/+$/, "")).optional(),
  WEB_LINK_DAYS: z.coerce.number().int().min(1).max(3650).default(30),
  // Content filtering by rspamd (its HTTP protocol, POST /checkv2 on the normal worker); unset: off.
  RSPAMD_URL: url(["http:", "https:"], "http(s)://host:port of rspamd's normal worker").transform((v) => v.replace(/\/+$/, "")).optional(),
  // rspamd's controller (POST /learnspam) for "this is spam"; unset: nothing is learned. Its password, if it asks one.
  RSPAMD_CONTROLLER_URL: url(["http:", "https:"], "http(s)://host:port of rspamd's controller").transform((v) => v.replace(/\/+$/, "")).optional(),
  RSPAMD_PASSWORD: z.string().regex(/^[\x20-\x7E]+$/, "must be printable ASCII").optional(),
  // How long one check may take; past it (or rspamd unreachable) RSPAMD_UNAVAILABLE decides.
  RSPAMD_TIMEOUT_MS: z.coerce.number().int().positive().max(120_000).default(5_000),
  // tempfail: answer 451 4.7.0 (the sender retries); accept: store the mail unfiltered, marked so.
  RSPAMD_UNAVAILABLE: z.enum(["tempfail", "accept"]).default("tempfail"),
  // Checks in flight at once, overall; past it a mail is treated as with rspamd unavailable.
  RSPAMD_MAX_CONCURRENT: z.coerce.number().int().min(1).max(10_000).default(32),
  // What is kept and for how long (docs/design.md §What is stored): a mail's raw bytes and text, then
  // its threading data (Message-IDs, references, correspondents); loadConfig checks their order.
  RETENTION_DAYS: z.coerce.number().int().min(1).max(36500).default(30),
  THREAD_DAYS: z.coerce.number().int().min(1).max(36500).default(365),
  // The pruner's step: mails per transaction, and the pause between two.
  PRUNE_BATCH: z.coerce.number().int().min(1).max(10_000).default(500),
  PRUNE_PAUSE_MS: z.coerce.number().int().nonnegative().max(60_000).default(200),
  CHAT_MAX_BYTES: bytes(16 * 1024).refine((v) => v <= 256 * 1024, "at most 262144 (stanza limit)"),
});

export type Env = z.output<typeof schema>;

