// Configuration from the environment (docs/design.md §Contract, Configuration): defaults from the table, one error naming every problem.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { ConfigError, loadConfig, readEnvironment, type Config } from "../../src/config.ts";

const MINIMAL = { MAIL_DOMAINS: "jabber.example.org", XMPP_DOMAIN: "mail.jabber.example.org", XMPP_SECRET: "s3cret" };

/** The ConfigError thrown by `fn`, failing the test when there is none. */
function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    return err;
  }
  assert.fail("expected a ConfigError");
}

/** The variable names a ConfigError's message lists, one problem a line. */
function named(err: ConfigError): string[] {
  const [head, ...lines] = err.message.split("\n");
  assert.equal(head, "configuration is not valid:");
  return lines.map((line) => line.trim().split(":")[0]!);
}

describe("loadConfig defaults", () => {
  it("fills every default from the design's table", () => {
    const expected: Config = {
      databaseUrl: undefined,
      dataDir: resolve("./data"),
      mailDomains: ["jabber.example.org"],
      smtp: {
        listen: { host: "0.0.0.0", port: 2525 },
        hostname: "mail.jabber.example.org",
        tls: null,
        maxSize: 25 * 1024 * 1024,
        maxRecipients: 100,
        maxClients: 1000,
        maxHops: 50,
        greetPassMs: 86_400_000,
        limits: { sessionTimeoutMs: 1_800_000, minDataRate: 500, rateWindowMs: 30_000, maxPerIp: 50, trustedProxies: [] },
        memory: { totalBytes: 256 * 1024 * 1024, perClientBytes: 64 * 1024 * 1024 },
      },
      parse: { timeoutMs: 10_000, memoryMb: 256, threads: 2, maxQueued: 50 },
      page: { timeoutMs: 5_000 },
      relayUrl: undefined,
      relayRetry: { schedule: [30, 60, 300, 900, 1800, 3600], maxAgeSeconds: 2 * 24 * 3600 },
      xmpp: { service: "xmpp://localhost:5347", domain: "mail.jabber.example.org", secret: "s3cret", keepaliveMs: 30_000,
        rooms: { quietMs: 600_000, joinTimeoutMs: 10_000, perRoom: 5, total: 200 },
        commands: { sessionsPerUser: 5, sessions: 10_000, perMinute: 30, perDomainPerMinute: 300, homeDomains: ["jabber.example.org"] },
        stanzas: { senderPerMinute: 300, subscriptionsPerMinute: 30, domainPerMinute: 3000, senderQueue: 100, pendingMax: 1000 },
        serverDomains: ["jabber.example.org"] },
      roster: { group: "E-mail", queueMax: 1000 },
      httpListen: { host: "127.0.0.1", port: 8080 },
      http: { clients: { trustedProxies: ["127.0.0.1", "::1"], ratePerMinute: 300, maxInFlight: 8, maxConnections: 16 }, maxConnections: 1000,
        headersTimeoutMs: 10_000 },
      logLevel: "info",
      chatMaxBytes: 16 * 1024,
      sendLimit: { perMinute: 10, perDay: 200 },
      selfServiceDomains: [],
      selfServiceNames: "ascii",
      selfServiceFreeNames: [],
      adminJids: [],
      recipientDelimiters: "+",
      auth: { mode: "mark", dnsServers: [], timeoutMs: 30_000, memoryMb: 128 },
      leaseSeconds: 30,
      attachments: { uploadService: null, maxBytes: 10 * 1024 * 1024, types: ["*"], fetchHosts: [],
        fetchPerUser: 2, fetchMemoryBytes: 64 * 1024 * 1024 },
      dkim: null,
      web: { publicUrl: null, linkDays: 30 },
      rspamd: null,
      retention: { days: 30, threadDays: 365, batch: 500, pauseMs: 200 },
    };
    assert.deepEqual(loadConfig(MINIMAL), expected);
  });

  it("reads every variable that is set", () => {
    const config = loadConfig({
      ...MINIMAL,
      DATABASE_URL: "postgres://postgres@127.0.0.1:5432/passerelle",
      DATA_DIR: "/var/lib/passerelle",
      MAIL_DOMAINS: " Jabber.Example.org, tcweb.org ,, ",
      SMTP_LISTEN: "[::1]:25",
      SMTP_HOSTNAME: " mx.example.org ",
      SMTP_RELAY: "smtps://user:pass@relay.example.org:465",
      XMPP_SERVICE: "xmpp://prosody:5275",
      XMPP_DOMAIN: "Mail.Jabber.Example.org",
      XMPP_KEEPALIVE_SECONDS: "5",
      ROOM_QUIET_SECONDS: "60", ROOM_OCCUPANTS_PER_ROOM: "3", ROOM_OCCUPANTS: "50",
      XMPP_SENDER_PER_MINUTE: "60", XMPP_SUBSCRIPTIONS_PER_MINUTE: "0", XMPP_DOMAIN_PER_MINUTE: "600",
      XMPP_SENDER_QUEUE: "10", XMPP_PENDING_MAX: "50",
      XMPP_SERVER_DOMAINS: "Jabber.Example.org, chat.example.net", ROSTER_GROUP: " Mail ", ROSTER_QUEUE_MAX: "20",
      HTTP_LISTEN: "localhost:9090",
      LOG_LEVEL: "debug",
      SMTP_MAX_SIZE: "1048576",
      SMTP_MAX_RECIPIENTS: "5",
      SMTP_MAX_CLIENTS: "7",
      CHAT_MAX_BYTES: String(256 * 1024),
      COMMAND_SESSIONS_PER_USER: "2", COMMAND_SESSIONS: "50", COMMAND_RATE_PER_MINUTE: "0", COMMAND_RATE_PER_DOMAIN_PER_MINUTE: "7",
      SELF_SERVICE_DOMAINS: "chat.example.net", ADMIN_JIDS: "boss@admins.example.org",
    });
    assert.equal(config.databaseUrl, "postgres://postgres@127.0.0.1:5432/passerelle");
    assert.equal(config.dataDir, "/var/lib/passerelle");
    assert.deepEqual(config.mailDomains, ["jabber.example.org", "tcweb.org"]);
    assert.deepEqual(config.smtp.listen, { host: "::1", port: 25 });
    assert.equal(config.smtp.hostname, "mx.example.org");
    assert.equal(config.relayUrl, "smtps://user:pass@relay.example.org:465");
    assert.deepEqual(config.xmpp, { service: "xmpp://prosody:5275", domain: "mail.jabber.example.org", secret: "s3cret", keepaliveMs: 5000,
      rooms: { quietMs: 60_000, joinTimeoutMs: 10_000, perRoom: 3, total: 50 },
      commands: { sessionsPerUser: 2, sessions: 50, perMinute: 0, perDomainPerMinute: 7,
        homeDomains: ["jabber.example.org", "chat.example.net", "admins.example.org"] },
      stanzas: { senderPerMinute: 60, subscriptionsPerMinute: 0, domainPerMinute: 600, senderQueue: 10, pendingMax: 50 },
      serverDomains: ["jabber.example.org", "chat.example.net"] });
    assert.deepEqual(config.roster, { group: "Mail", queueMax: 20 });
    assert.deepEqual(config.httpListen, { host: "localhost", port: 9090 });
    assert.equal(config.logLevel, "debug");
    assert.equal(config.smtp.maxSize, 1048576);
    assert.equal(config.smtp.maxRecipients, 5);
    assert.equal(config.smtp.maxClients, 7);
    assert.equal(config.chatMaxBytes, 262144);
  });

  it("reads the content filter: off without RSPAMD_URL, its defaults, and names bad values", () => {
    assert.equal(loadConfig({ ...MINIMAL, RSPAMD_CONTROLLER_URL: "http://127.0.0.1:11334" }).rspamd, null);
    assert.deepEqual(loadConfig({ ...MINIMAL, RSPAMD_URL: "http://127.0.0.1:11333/" }).rspamd,
      { url: "http://127.0.0.1:11333", controllerUrl: null, password: null, timeoutMs: 5000, unavailable: "tempfail", maxConcurrent: 32 });
    assert.deepEqual(loadConfig({ ...MINIMAL, RSPAMD_URL: "http://r:11333", RSPAMD_CONTROLLER_URL: "http://r:11334", RSPAMD_PASSWORD: "pw",
      RSPAMD_TIMEOUT_MS: "800", RSPAMD_UNAVAILABLE: "accept", RSPAMD_MAX_CONCURRENT: "4" }).rspamd,
      { url: "http://r:11333", controllerUrl: "http://r:11334", password: "pw", timeoutMs: 800, unavailable: "accept", maxConcurrent: 4 });
    assert.deepEqual(named(configError(() => loadConfig({ ...MINIMAL, RSPAMD_URL: "r:11333", RSPAMD_UNAVAILABLE: "drop", RSPAMD_MAX_CONCURRENT: "0" }))).sort(),
      ["RSPAMD_MAX_CONCURRENT", "RSPAMD_UNAVAILABLE", "RSPAMD_URL"]);
  });

  it("reads the SMTP limits and parser limits, and names bad trusted proxies", () => {
    const config = loadConfig({
      ...MINIMAL, SMTP_MAX_PER_IP: "3", SMTP_SESSION_TIMEOUT: "60", SMTP_MIN_DATA_RATE: "0", SMTP_RATE_WINDOW: "5",
      SMTP_TRUSTED_PROXIES: " 10.0.0.1, ::1 ", SMTP_MAX_HOPS: "20", PARSE_TIMEOUT_MS: "500", PARSE_MEMORY_MB: "64",
    });
    assert.deepEqual(config.smtp.limits, { sessionTimeoutMs: 60_000, minDataRate: 0, rateWindowMs: 5000, maxPerIp: 3,
      trustedProxies: ["10.0.0.1", "::1"] });
    assert.equal(config.smtp.maxHops, 20);
    assert.deepEqual(config.parse, { timeoutMs: 500, memoryMb: 64, threads: 2, maxQueued: 50 });
    assert.deepEqual(named(configError(() => loadConfig({ ...MINIMAL, SMTP_TRUSTED_PROXIES: "10.0.0.1, proxy.example" }))),
      ["SMTP_TRUSTED_PROXIES"]);
  });

  it("reads the web clients' budgets; HTTP_TRUSTED_PROXIES is loopback by default, none for no one, and names bad ones", () => {
    const config = loadConfig({ ...MINIMAL, HTTP_TRUSTED_PROXIES: " 10.0.0.1, 2001:db8::1, 172.16.0.0/12 ", HTTP_RATE_PER_MINUTE: "0",
      HTTP_CLIENT_CONCURRENT: "2", HTTP_CONNECTIONS_PER_CLIENT: "4", HTTP_MAX_CONNECTIONS: "50", HTTP_HEADERS_TIMEOUT_MS: "2000" });
    assert.deepEqual(config.http, { clients: { trustedProxies: ["10.0.0.1", "2001:db8::1", "172.16.0.0/12"], ratePerMinute: 0, maxInFlight: 2,
      maxConnections: 4 }, maxConnections: 50, headersTimeoutMs: 2000 });
    assert.deepEqual(loadConfig({ ...MINIMAL, HTTP_TRUSTED_PROXIES: "None" }).http.clients.trustedProxies, []);
    assert.deepEqual(named(configError(() => loadConfig({ ...MINIMAL, HTTP_TRUSTED_PROXIES: "proxy.example",
      HTTP_CLIENT_CONCURRENT: "0", HTTP_HEADERS_TIMEOUT_MS: "5" }))), ["HTTP_TRUSTED_PROXIES", "HTTP_CLIENT_CONCURRENT", "HTTP_HEADERS_TIMEOUT_MS"]);
  });

  it("reads the memory budget and its share per client, and refuses one that cannot hold a mail of SMTP_MAX_SIZE", () => {
    const MIB = 1024 * 1024;
    const derived = loadConfig({ ...MINIMAL, SMTP_MEMORY_MB: "64", SMTP_MAX_SIZE: String(5 * MIB), PARSE_THREADS: "1", PARSE_QUEUE_MAX: "4" });
    assert.deepEqual(derived.smtp.memory, { totalBytes: 64 * MIB, perClientBytes: 16 * MIB });
    assert.deepEqual(derived.parse, { timeoutMs: 10_000, memoryMb: 256, threads: 1, maxQueued: 4 });
    // A quarter would be under one largest mail: the share is one largest mail.
    assert.equal(loadConfig({ ...MINIMAL, SMTP_MEMORY_MB: "64" }).smtp.memory.perClientBytes, 25 * MIB);
    assert.equal(loadConfig({ ...MINIMAL, SMTP_MEMORY_PER_CLIENT_MB: "100" }).smtp.memory.perClientBytes, 100 * MIB);
    assert.deepEqual(named(configError(() => loadConfig({ ...MINIMAL, SMTP_MEMORY_MB: "16" }))), ["SMTP_MEMORY_MB"]);
    assert.deepEqual(named(configError(() => loadConfig({ ...MINIMAL, SMTP_MEMORY_PER_CLIENT_MB: "10" }))), ["SMTP_MEMORY_PER_CLIENT_MB"]);
  });

  it("names a keep-alive that is not a whole number of seconds from 1", () => {
    for (const bad of ["0", "-5", "1.5", "soon"]) {
      assert.deepEqual(named(configError(() => loadConfig({ ...MINIMAL, XMPP_KEEPALIVE_SECONDS: bad }))), ["XMPP_KEEPALIVE_SECONDS"], bad);
    }
  });

  it("accepts postgresql:// as well as postgres://, and xmpps://", () => {
    assert.equal(loadConfig({ ...MINIMAL, DATABASE_URL: "postgresql://u@h/db" }).databaseUrl, "postgresql://u@h/db");
    assert.equal(loadConfig({ ...MINIMAL, XMPP_SERVICE: "xmpps://h:5270" }).xmpp.service, "xmpps://h:5270");
  });

  it("takes the SMTP host name from XMPP_DOMAIN when SMTP_HOSTNAME is unset", () => {
    assert.equal(loadConfig(MINIMAL).smtp.hostname, "mail.jabber.example.org");
  });

  it("treats an empty variable as unset", () => {
    const config = loadConfig({ ...MINIMAL, DATABASE_URL: "", SMTP_RELAY: "", LOG_LEVEL: "", SMTP_LISTEN: "" });
    assert.equal(config.databaseUrl, undefined);
    assert.equal(config.relayUrl, undefined);
    assert.equal(config.logLevel, "info");
    assert.deepEqual(config.smtp.listen, { host: "0.0.0.0", port: 2525 });
  });

  it("ignores unrelated variables", () => {
    assert.deepEqual(loadConfig({ ...MINIMAL, PATH: "/usr/bin", HOME: "/root" }), loadConfig(MINIMAL));
  });
});

describe("loadConfig problems", () => {
  it("throws a ConfigError naming MAIL_DOMAINS when it is missing or has no domain", () => {
    const missing = configError(() => loadConfig({ XMPP_DOMAIN: "mail.example.org", XMPP_SECRET: "x" }));
    assert.equal(missing.name, "ConfigError");
    assert.deepEqual(named(missing), ["MAIL_DOMAINS"]);
    assert.deepEqual(named(configError(() => loadConfig({ ...MINIMAL, MAIL_DOMAINS: " , " }))), ["MAIL_DOMAINS"]);
    assert.deepEqual(named(configError(() => loadConfig({ ...MINIMAL, MAIL_DOMAINS: "ok.org, not a domain" }))), ["MAIL_DOMAINS"]);
  });

  it("names every problem in one message", () => {
    const err = configError(() => loadConfig({
      MAIL_DOMAINS: "example.org,bad_domain",
      DATABASE_URL: "mysql://x/y",
      SMTP_LISTEN: "nope",
      HTTP_LISTEN: "1.2.3.4:70000",
      SMTP_RELAY: "http://relay",
      XMPP_SERVICE: "tcp://x:1",
      XMPP_DOMAIN: "bad_domain",
      XMPP_SECRET: "s\u00e9cret",
      LOG_LEVEL: "loud",
      SMTP_MAX_SIZE: "-1",
      SMTP_MAX_RECIPIENTS: "1.5",
      SMTP_MAX_CLIENTS: "many",
      CHAT_MAX_BYTES: "262145",
    }));
    assert.deepEqual(new Set(named(err)), new Set([
      "MAIL_DOMAINS", "DATABASE_URL", "SMTP_LISTEN", "HTTP_LISTEN", "SMTP_RELAY", "XMPP_SERVICE", "XMPP_DOMAIN",
      "XMPP_SECRET", "LOG_LEVEL", "SMTP_MAX_SIZE", "SMTP_MAX_RECIPIENTS", "SMTP_MAX_CLIENTS", "CHAT_MAX_BYTES",
    ]));
    assert.match(err.message, /SMTP_LISTEN: expected host:port, got "nope"/);
    assert.match(err.message, /CHAT_MAX_BYTES: at most 262144/);
    assert.match(err.message, /XMPP_SECRET: must be printable ASCII/);
  });

  it("refuses a secret with control characters (the handshake would not match)", () => {
    assert.deepEqual(named(configError(() => loadConfig({ ...MINIMAL, XMPP_SECRET: "a\u0001b" }))), ["XMPP_SECRET"]);
  });

  it("refuses ports above 65535 and listen values without a port", () => {
    for (const value of ["0.0.0.0:65536", "0.0.0.0", ":25", "host:port", "::1:25"]) {
      assert.deepEqual(named(configError(() => loadConfig({ ...MINIMAL, SMTP_LISTEN: value }))), ["SMTP_LISTEN"], value);
    }
    assert.deepEqual(loadConfig({ ...MINIMAL, SMTP_LISTEN: "127.0.0.1:65535" }).smtp.listen, { host: "127.0.0.1", port: 65535 });
  });

  it("asks for both SMTP_TLS_CERT and SMTP_TLS_KEY or neither", () => {
    const err = configError(() => loadConfig({ ...MINIMAL, SMTP_TLS_CERT: "/etc/ssl/cert.pem" }));
    assert.equal(err.message, "configuration is not valid:\n  SMTP_TLS_CERT and SMTP_TLS_KEY: set both or neither");
    configError(() => loadConfig({ ...MINIMAL, SMTP_TLS_KEY: "/etc/ssl/key.pem" }));
  });

  it("allows free self-service names only on a mail domain that is not an XMPP domain", () => {
    const env = { ...MINIMAL, MAIL_DOMAINS: "jabber.example.org,lists.example.org", SELF_SERVICE_DOMAINS: "jabber.example.org" };
    assert.deepEqual(loadConfig({ ...env, SELF_SERVICE_FREE_NAMES: "Lists.example.org", SELF_SERVICE_NAMES: "unicode" }).selfServiceFreeNames,
      ["lists.example.org"]);
    const err = configError(() => loadConfig({ ...env, SELF_SERVICE_FREE_NAMES: "jabber.example.org,other.example" }));
    assert.equal(err.message, "configuration is not valid:\n  SELF_SERVICE_FREE_NAMES: jabber.example.org is an XMPP domain: its names belong to its accounts"
      + "\n  SELF_SERVICE_FREE_NAMES: other.example is not one of MAIL_DOMAINS");
    configError(() => loadConfig({ ...env, SELF_SERVICE_NAMES: "latin1" }));
  });

  it("reads RECIPIENT_DELIMITER: + by default (and when empty), several characters, none for off, only atext symbols", () => {
    assert.equal(loadConfig(MINIMAL).recipientDelimiters, "+");
    assert.equal(loadConfig({ ...MINIMAL, RECIPIENT_DELIMITER: "+-" }).recipientDelimiters, "+-");
    assert.equal(loadConfig({ ...MINIMAL, RECIPIENT_DELIMITER: "" }).recipientDelimiters, "+", "VAR= is unset");
    assert.equal(loadConfig({ ...MINIMAL, RECIPIENT_DELIMITER: "None" }).recipientDelimiters, "");
    for (const bad of ["a", ".", "@", "+ ", "1"]) assert.deepEqual(named(configError(() => loadConfig({ ...MINIMAL, RECIPIENT_DELIMITER: bad }))), ["RECIPIENT_DELIMITER"], bad);
  });

  it("names the required XMPP_DOMAIN and XMPP_SECRET when they are missing",
    () => {
      const err = configError(() => loadConfig({ MAIL_DOMAINS: "example.org" }));
      assert.deepEqual(new Set(named(err)), new Set(["XMPP_DOMAIN", "XMPP_SECRET"]));
    });

  it("names every missing required variable at once",
    () => {
      const err = configError(() => loadConfig({}));
      assert.deepEqual(new Set(named(err)), new Set(["MAIL_DOMAINS", "XMPP_DOMAIN", "XMPP_SECRET"]));
    });

  it("names the TLS pair problem together with the other problems",
    () => {
      const err = configError(() => loadConfig({ ...MINIMAL, LOG_LEVEL: "loud", SMTP_TLS_CERT: "/etc/ssl/cert.pem" }));
      assert.equal(err.message.includes("SMTP_TLS_CERT and SMTP_TLS_KEY"), true, err.message);
      assert.ok(named(err).includes("LOG_LEVEL"));
    });
});

describe("loadConfig TLS files", () => {
  let dir = "";
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "passerelle-config-"));
    writeFileSync(join(dir, "cert.pem"), "CERT");
    writeFileSync(join(dir, "key.pem"), "KEY");
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("reads the certificate and key when both are set", () => {
    const config = loadConfig({ ...MINIMAL, SMTP_TLS_CERT: join(dir, "cert.pem"), SMTP_TLS_KEY: join(dir, "key.pem") });
    assert.deepEqual(config.smtp.tls, { cert: "CERT", key: "KEY" });
  });
});

describe('loadConfig scope "database"', () => {
  it("needs neither XMPP_DOMAIN nor XMPP_SECRET", () => {
    const config = loadConfig({ MAIL_DOMAINS: "example.org" }, "database");
    assert.deepEqual(config.mailDomains, ["example.org"]);
    assert.equal(config.smtp.hostname, "example.org");
    assert.equal(config.databaseUrl, undefined);
  });

  it("still names database problems", () => {
    const err = configError(() => loadConfig({ MAIL_DOMAINS: "example.org", DATABASE_URL: "mysql://x/y" }, "database"));
    assert.deepEqual(named(err), ["DATABASE_URL"]);
    assert.deepEqual(named(configError(() => loadConfig({}, "database"))), ["MAIL_DOMAINS"]);
  });

  it("ignores a TLS pair problem", () => {
    assert.deepEqual(loadConfig({ MAIL_DOMAINS: "example.org", SMTP_TLS_CERT: "/x" }, "database").mailDomains, ["example.org"]);
  });

  it("is not stopped by a bad variable it does not use, and never throws an empty message",
    () => {
      for (const extra of [{ SMTP_LISTEN: "nope" }, { XMPP_DOMAIN: "bad_domain" }, { XMPP_SECRET: "s\u00e9" }, { CHAT_MAX_BYTES: "0" }]) {
        let config: Config | undefined;
        try {
          config = loadConfig({ MAIL_DOMAINS: "example.org", ...extra }, "database");
        } catch (err) {
          // Refusing is acceptable only if the message says what is wrong.
          const name = Object.keys(extra)[0]!;
          assert.ok(err instanceof ConfigError && err.message.includes(name), `${name}: ${String(err)}`);
          continue;
        }
        assert.deepEqual(config.mailDomains, ["example.org"]);
      }
    });
});

describe("readEnvironment", () => {
  let dir = "";
  before(() => { dir = mkdtempSync(join(tmpdir(), "passerelle-env-")); });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("returns the environment itself when there is no .env file", () => {
    const env = { MAIL_DOMAINS: "example.org" };
    assert.equal(readEnvironment(env, dir), env);
  });

  it("adds the .env file's variables; real variables win", () => {
    writeFileSync(join(dir, ".env"), "# comment\nMAIL_DOMAINS=from-file.org\nXMPP_SECRET=\"quoted secret\"\nLOG_LEVEL=warn\n");
    const env = readEnvironment({ MAIL_DOMAINS: "real.org" }, dir);
    assert.equal(env.MAIL_DOMAINS, "real.org");
    assert.equal(env.XMPP_SECRET, "quoted secret");
    assert.equal(env.LOG_LEVEL, "warn");
  });
});

describe("loadConfig DKIM and sending limits", () => {
  const pem = generateKeyPairSync("rsa", { modulusLength: 1024 }).privateKey.export({ type: "pkcs8", format: "pem" }).toString();
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "passerelle-dkim-"));
    writeFileSync(join(dir, "dkim.pem"), pem);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("takes the key inline, with literal \\n as compose files pass it, or from a file", () => {
    assert.deepEqual(loadConfig({ ...MINIMAL, DKIM_SELECTOR: "s1", DKIM_PRIVATE_KEY: pem }).dkim, { selector: "s1", privateKey: pem });
    assert.deepEqual(loadConfig({ ...MINIMAL, DKIM_SELECTOR: "s1", DKIM_PRIVATE_KEY: pem.replace(/\n/g, "\\n") }).dkim,
      { selector: "s1", privateKey: pem });
    assert.deepEqual(loadConfig({ ...MINIMAL, DKIM_SELECTOR: "s1", DKIM_PRIVATE_KEY_FILE: join(dir, "dkim.pem") }).dkim,
      { selector: "s1", privateKey: pem });
  });

  it("names a half-set pair, both key sources, a bad key, an unreadable file and a bad selector", () => {
    assert.deepEqual(named(configError(() => loadConfig({ ...MINIMAL, DKIM_SELECTOR: "s1" }))), ["DKIM_SELECTOR and DKIM_PRIVATE_KEY (or DKIM_PRIVATE_KEY_FILE)"]);
    assert.deepEqual(named(configError(() => loadConfig({ ...MINIMAL, DKIM_PRIVATE_KEY: pem }))), ["DKIM_SELECTOR and DKIM_PRIVATE_KEY (or DKIM_PRIVATE_KEY_FILE)"]);
    assert.deepEqual(named(configError(() => loadConfig({ ...MINIMAL, DKIM_SELECTOR: "s1", DKIM_PRIVATE_KEY: pem,
      DKIM_PRIVATE_KEY_FILE: join(dir, "dkim.pem") }))), ["DKIM_PRIVATE_KEY and DKIM_PRIVATE_KEY_FILE"]);
    assert.deepEqual(named(configError(() => loadConfig({ ...MINIMAL, DKIM_SELECTOR: "s1", DKIM_PRIVATE_KEY: "not a key" }))), ["DKIM_PRIVATE_KEY"]);
    assert.deepEqual(named(configError(() => loadConfig({ ...MINIMAL, DKIM_SELECTOR: "s1", DKIM_PRIVATE_KEY_FILE: join(dir, "missing.pem") }))), ["DKIM_PRIVATE_KEY_FILE"]);
    assert.deepEqual(named(configError(() => loadConfig({ ...MINIMAL, DKIM_SELECTOR: "bad selector", DKIM_PRIVATE_KEY: pem }))), ["DKIM_SELECTOR"]);
  });

  it("reads the sending limits; 0 turns one off; negative is refused", () => {
    assert.deepEqual(loadConfig({ ...MINIMAL, SEND_LIMIT_PER_MINUTE: "0", SEND_LIMIT_PER_DAY: "50" }).sendLimit, { perMinute: 0, perDay: 50 });
    assert.deepEqual(named(configError(() => loadConfig({ ...MINIMAL, SEND_LIMIT_PER_DAY: "-1" }))), ["SEND_LIMIT_PER_DAY"]);
  });
});

describe("loadConfig DKIM key types", () => {
  it("refuses keys nodemailer cannot sign with (not RSA) and short RSA keys (RFC 8301)", () => {
    const ed = generateKeyPairSync("ed25519").privateKey.export({ type: "pkcs8", format: "pem" }).toString();
    assert.match(configError(() => loadConfig({ ...MINIMAL, DKIM_SELECTOR: "s", DKIM_PRIVATE_KEY: ed })).message, /DKIM_PRIVATE_KEY: an RSA key is needed, this is ed25519/);
    const short = generateKeyPairSync("rsa", { modulusLength: 512 }).privateKey.export({ type: "pkcs8", format: "pem" }).toString();
    assert.match(configError(() => loadConfig({ ...MINIMAL, DKIM_SELECTOR: "s", DKIM_PRIVATE_KEY: short })).message, /under 1024 bits/);
  });
});

describe("loadConfig full mail on the web", () => {
  it("reads PUBLIC_URL without its trailing slash and WEB_LINK_DAYS; refuses other schemes, queries and 0 days", () => {
    assert.deepEqual(loadConfig({ ...MINIMAL, PUBLIC_URL: " https://mail.jabber.tcweb.org/ ", WEB_LINK_DAYS: "7" }).web,
      { publicUrl: "https://mail.jabber.tcweb.org", linkDays: 7 });
    assert.equal(loadConfig({ ...MINIMAL, PUBLIC_URL: "https://example.org/passerelle" }).web.publicUrl, "https://example.org/passerelle");
    assert.deepEqual(named(configError(() => loadConfig({ ...MINIMAL, PUBLIC_URL: "ftp://example.org" }))), ["PUBLIC_URL"]);
    assert.deepEqual(named(configError(() => loadConfig({ ...MINIMAL, PUBLIC_URL: "https://example.org/?a=1" }))), ["PUBLIC_URL"]);
    assert.deepEqual(named(configError(() => loadConfig({ ...MINIMAL, WEB_LINK_DAYS: "0" }))), ["WEB_LINK_DAYS"]);
  });
});

describe("loadConfig retention", () => {
  it("keeps mail 30 days and threading data 365 by default; refuses a retention shorter than a link's life or than threading's", () => {
    assert.deepEqual(loadConfig(MINIMAL).retention, { days: 30, threadDays: 365, batch: 500, pauseMs: 200 });
    assert.deepEqual(loadConfig({ ...MINIMAL, RETENTION_DAYS: "7", WEB_LINK_DAYS: "7", THREAD_DAYS: "7" }).retention,
      { days: 7, threadDays: 7, batch: 500, pauseMs: 200 });
    assert.deepEqual(named(configError(() => loadConfig({ ...MINIMAL, RETENTION_DAYS: "10" }))), ["RETENTION_DAYS"]);
    assert.match(configError(() => loadConfig({ ...MINIMAL, RETENTION_DAYS: "10" })).message, /at least WEB_LINK_DAYS \(30\)/);
    assert.deepEqual(named(configError(() => loadConfig({ ...MINIMAL, THREAD_DAYS: "20" }))), ["THREAD_DAYS"]);
    assert.deepEqual(named(configError(() => loadConfig({ ...MINIMAL, RETENTION_DAYS: "0" }))), ["RETENTION_DAYS"]);
  });
});
