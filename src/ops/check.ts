// `passerelle check`: every problem an admin can act on, in words, and a non-zero exit if there is one.
import { createTransport } from "nodemailer";
import { ConfigError, loadConfig, type Config } from "../config.ts";
import { createLogger } from "../log.ts";
import { dkimRecord } from "../mail/dkim.ts";
import { openDatabase } from "../store/db.ts";
import { linkHolder } from "../store/link-lock.ts";
import { createXmppLink, XmppConfigError } from "../xmpp/component.ts";

interface Line { ok: boolean; what: string; detail: string }

export async function runCheck(env: NodeJS.ProcessEnv): Promise<number> {
  let config: Config;
  try {
    config = loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) {
      console.log(`✗ configuration\n  ${err.message}`);
      return 1;
    }
    throw err;
  }
  const lines: Line[] = [{ ok: true, what: "configuration", detail: `mail for ${config.mailDomains.join(", ")}` }];
  lines.push(await checkDatabase(config), await checkXmpp(config), await checkRelay(config));
  if (config.rspamd) lines.push(await checkRspamd(config.rspamd));
  if (config.dkim) lines.push(dkimLine(config.dkim, config.mailDomains));
  for (const l of lines) console.log(`${l.ok ? "✓" : "✗"} ${l.what}: ${l.detail}`);
  return lines.every((l) => l.ok) ? 0 : 1;
}

async function checkDatabase(config: Config): Promise<Line> {
  try {
    const db = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, role: "cli", log: createLogger("silent") });
    try {
      await db.knex.raw("select 1");
      const pending = await db.knex("knex_migrations").count<{ count: number }[]>("* as count").catch(() => null);
      return { ok: true, what: "database", detail: `${db.describe}${pending === null ? " (not migrated yet: run passerelle migrate)" : ""}` };
    } finally {
      await db.close();
    }
  } catch (err) {
    return { ok: false, what: "database", detail: `cannot reach it: ${(err as Error).message}` };
  }
}

/** When serve runs, its health endpoint tells its role and link state; when another instance holds the
 * link lock, the database says so (docs/design.md §Several instances): connecting as the component here
 * would kick the live session (component_conflict_resolve = kick_old). Otherwise connect and authenticate. */
async function checkXmpp(config: Config): Promise<Line> {
  const what = `xmpp server (${config.xmpp.service} as ${config.xmpp.domain})`;
  // A wildcard listener is reached on loopback; an IPv6 host needs brackets in a URL.
  const host = { "0.0.0.0": "127.0.0.1", "::": "::1" }[config.httpListen.host] ?? config.httpListen.host;
  const url = `http://${host.includes(":") ? `[${host}]` : host}:${config.httpListen.port}/healthz`;
  const health = await fetch(url, { signal: AbortSignal.timeout(2000) })
    .then((r) => r.json() as Promise<{ xmpp?: string; role?: string }>, () => null).catch(() => ({ xmpp: "unknown (health endpoint failed)", role: undefined }));
  if (health?.role === "standby") {
    return { ok: true, what, detail: "serve is running here as a standby: another instance holds the XMPP link" };
  }
  if (health?.xmpp) {
    return { ok: health.xmpp === "online", what, detail: `serve is running; its link is ${health.xmpp}` };
  }
  const holder = await heldElsewhere(config);
  if (holder) return { ok: true, what, detail: `another instance holds the XMPP link (${holder}); not connecting, which would take the link from it` };
  const link = createXmppLink(config.xmpp, { log: createLogger("silent"), version: "check", onBounce: () => undefined });
  try {
    const state = await link.start();
    return state === "online"
      ? { ok: true, what, detail: "connected and authenticated" }
      : { ok: false, what, detail: "cannot connect: is the server running and its component port reachable?" };
  } catch (err) {
    return { ok: false, what, detail: err instanceof XmppConfigError ? err.message : (err as Error).message };
  } finally {
    await link.stop();
  }
}

/** The session holding the link lock, in words, or null (none, or no shared database to ask). */
async function heldElsewhere(config: Config): Promise<string | null> {
  if (!config.databaseUrl) return null;
  try {
    const db = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, role: "cli", log: createLogger("silent") });
    try {
      const holder = await linkHolder(db.knex, config.xmpp.domain);
      return holder && `database session ${holder.pid}${holder.client ? ` from ${holder.client}` : ""}`;
    } finally {
      await db.close();
    }
  } catch {
    return null; // the database line says what is wrong with it
  }
}

async function checkRelay(config: Config): Promise<Line> {
  if (!config.relayUrl) return { ok: true, what: "smtp relay", detail: "SMTP_RELAY not set: replies from chat cannot be sent" };
  const transport = createTransport(config.relayUrl, { connectionTimeout: 5000, greetingTimeout: 5000 } as object);
  try {
    await transport.verify();
    return { ok: true, what: "smtp relay", detail: `${new URL(config.relayUrl).host} answers` };
  } catch (err) {
    return { ok: false, what: "smtp relay", detail: `${new URL(config.relayUrl).host}: ${(err as Error).message}` };
  } finally {
    transport.close();
  }
}

/** rspamd's normal worker (and controller, when set) answer `GET /ping` with `pong`. */
async function checkRspamd(rspamd: NonNullable<Config["rspamd"]>): Promise<Line> {
  const ping = (base: string) => fetch(`${base}/ping`, { signal: AbortSignal.timeout(rspamd.timeoutMs) })
    .then(async (r) => (r.ok && (await r.text()).trim() === "pong" ? null : `${base} answers HTTP ${r.status}, not pong`),
      (err: Error) => `${base}: ${err.cause instanceof Error ? err.cause.message : err.message}`);
  const problems = (await Promise.all([rspamd.url, ...(rspamd.controllerUrl ? [rspamd.controllerUrl] : [])].map(ping))).filter(Boolean);
  if (problems.length) return { ok: false, what: "rspamd", detail: `${problems.join("; ")} (mail gets RSPAMD_UNAVAILABLE=${rspamd.unavailable} meanwhile)` };
  return { ok: true, what: "rspamd", detail: `${rspamd.url} answers${rspamd.controllerUrl ? ", and its controller" : "; RSPAMD_CONTROLLER_URL not set: nothing is learned"}` };
}

/** What to publish in DNS for DKIM; the key itself was validated with the configuration. */
function dkimLine(dkim: NonNullable<Config["dkim"]>, domains: string[]): Line {
  const record = dkimRecord(dkim.privateKey);
  const names = domains.map((d) => `  ${dkim.selector}._domainkey.${d}. IN TXT "${record}"`).join("\n");
  return { ok: true, what: "dkim", detail: `outgoing mail is signed; publish (long values split in 255-character strings):\n${names}` };
}
