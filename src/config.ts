// Typed configuration from the environment (design: Configuration). One message names every problem.
import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { parseEnv } from "node:util";
import { z } from "zod";

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
  SMTP_RELAY: url(["smtp:", "smtps:"], "smtp://[user:pass@]host:port or smtps://…").optional(),
  XMPP_SERVICE: url(["xmpp:", "xmpps:"], "xmpp://host:port").default("xmpp://localhost:5347"),
  XMPP_DOMAIN: domain.optional().refine((v) => v !== undefined, "required: the component's domain"),
  XMPP_SECRET: z.string().optional()
    .refine((v) => v !== undefined && v.length > 0, "required: the component secret")
    // The XEP-0114 handshake hashes the secret as latin1 in xmpp.js: only ASCII survives both ends.
    .refine((v) => v === undefined || /^[\x20-\x7E]*$/.test(v), "must be printable ASCII"),
  HTTP_LISTEN: listen("127.0.0.1:8080"),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  CHAT_MAX_BYTES: bytes(16 * 1024).refine((v) => v <= 256 * 1024, "at most 262144 (stanza limit)"),
});

type Env = z.output<typeof schema>;

export interface Config {
  databaseUrl: string | undefined;
  dataDir: string;
  mailDomains: string[];
  smtp: {
    listen: Listen; hostname: string; tls: { cert: string; key: string } | null;
    maxSize: number; maxRecipients: number; maxClients: number;
  };
  relayUrl: string | undefined;
  xmpp: { service: string; domain: string; secret: string };
  httpListen: Listen;
  logLevel: Env["LOG_LEVEL"];
  chatMaxBytes: number;
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

export function loadConfig(env: NodeJS.ProcessEnv, scope: ConfigScope = "all"): Config {
  // `VAR=` (empty) means unset, as in compose files that pass optional variables through.
  const result = schema.safeParse(Object.fromEntries(Object.entries(env).filter(([, v]) => v !== "")));
  const issues = result.success ? [] : result.error.issues
    .filter((i) => scope === "all" || ["DATABASE_URL", "DATA_DIR", "MAIL_DOMAINS", "LOG_LEVEL"].includes(String(i.path[0])))
    .map((i) => `${String(i.path[0])}: ${i.message}`);
  const e = result.data;
  if (e && scope === "all" && Boolean(e.SMTP_TLS_CERT) !== Boolean(e.SMTP_TLS_KEY)) {
    issues.push("SMTP_TLS_CERT and SMTP_TLS_KEY: set both or neither");
  }
  if (issues.length > 0 || !result.success) {
    throw new ConfigError(`configuration is not valid:\n  ${issues.join("\n  ")}`);
  }
  return toConfig(result.data);
}

function toConfig(e: Env): Config {
  return {
    databaseUrl: e.DATABASE_URL,
    dataDir: resolve(e.DATA_DIR),
    mailDomains: e.MAIL_DOMAINS,
    smtp: {
      listen: e.SMTP_LISTEN,
      hostname: e.SMTP_HOSTNAME ?? e.XMPP_DOMAIN ?? e.MAIL_DOMAINS[0] ?? "localhost",
      tls: e.SMTP_TLS_CERT && e.SMTP_TLS_KEY
        ? { cert: readFileSync(e.SMTP_TLS_CERT, "utf8"), key: readFileSync(e.SMTP_TLS_KEY, "utf8") } : null,
      maxSize: e.SMTP_MAX_SIZE,
      maxRecipients: e.SMTP_MAX_RECIPIENTS,
      maxClients: e.SMTP_MAX_CLIENTS,
    },
    relayUrl: e.SMTP_RELAY,
    xmpp: { service: e.XMPP_SERVICE, domain: e.XMPP_DOMAIN ?? "", secret: e.XMPP_SECRET ?? "" },
    httpListen: e.HTTP_LISTEN,
    logLevel: e.LOG_LEVEL,
    chatMaxBytes: e.CHAT_MAX_BYTES,
  };
}
