// The admin CLI (docs/design.md §Contract, Commands). Exit codes: 0 ok, 1 failure, 2 usage.
import { parseArgs } from "node:util";
import { startApp, VERSION } from "./app.ts";
import { runCheck } from "./ops/check.ts";
import { ConfigError, loadConfig, readEnvironment, type Config } from "./config.ts";
import { domainOf, parseBareJid, parseMailAddress } from "./core/addresses.ts";
import { createLogger, createServerLogger } from "./log.ts";
import { openDatabase, type Database } from "./store/db.ts";
import { createDeliveryStore } from "./store/deliveries.ts";
import { createMailboxStore } from "./store/mailboxes.ts";
import { createRoomStore } from "./store/rooms.ts";
import type { BareJid, MailAddress } from "./core/types.ts";
import { createRetentionStore } from "./store/retention.ts";
import { XmppConfigError } from "./xmpp/component.ts";

const HELP: Record<string, string> = {
  main: `Passerelle ${VERSION} — mail ⇄ XMPP gateway

usage: passerelle <command> [options]

commands:
  serve                       run the gateway (applies pending migrations first)
  migrate                     apply database migrations and exit
  mailbox add ADDRESS JID     map an e-mail address to an XMPP account
  mailbox list                list mailboxes
  mailbox remove ADDRESS      delete a mailbox (its stored mail stays until it expires)
  mailbox purge ADDRESS [--waiting]  delete the mail stored for an address
  mailbox disable|enable ADDRESS
  room add ADDRESS ROOM_JID   give a conference room (XEP-0045) a mail address
  room list | remove ADDRESS | disable|enable ADDRESS
  queue [--failed]            show waiting (or failed) deliveries with their last error
  queue retry ID              re-drive one delivery now
  check                       validate the configuration and reach the database, XMPP server and relay

Configuration comes from the environment (and a .env file): see README.md.
Every command takes --help.`,
  serve: "usage: passerelle serve\n\nRun the gateway: SMTP listener, XMPP component, delivery worker, HTTP health.\nSIGTERM stops gracefully; a second signal exits at once.",
  migrate: "usage: passerelle migrate\n\nApply pending database migrations and exit.",
  mailbox: "usage: passerelle mailbox add ADDRESS JID | list | remove ADDRESS | purge ADDRESS [--waiting] | disable ADDRESS | enable ADDRESS\n\nADDRESS must be in one of MAIL_DOMAINS; JID is a bare JID (user@server). Changes apply to the next SMTP transaction.\nremove deletes the mapping only: the address's stored mail stays until RETENTION_DAYS/THREAD_DAYS, and mail\nstill waiting is delivered to the JID it was accepted for. purge deletes the address's stored mail now (the\nmailbox itself stays): its copies of inbound mail, its outgoing mail, and every mail no other mailbox shares.\nMail still waiting for delivery is kept and counted, unless --waiting: then it is deleted too, undelivered.\n'*@domain' (quoted for the shell) is the domain's catch-all: every address of it without a mailbox of its own.",
  room: "usage: passerelle room add ADDRESS ROOM_JID | list | remove ADDRESS | disable ADDRESS | enable ADDRESS\n\nADDRESS must be in one of MAIL_DOMAINS and not a mailbox; ROOM_JID is the room's bare JID (room@conference.server).\nMail to ADDRESS is posted in the room; changes apply to the next SMTP transaction.",
  queue: "usage: passerelle queue [--failed] | queue retry ID\n\nWithout options: deliveries waiting or in progress. --failed: deliveries that failed, with the reason.",
  check: "usage: passerelle check\n\nValidate the configuration, then reach the database, the XMPP server and the SMTP relay.\nPrints what is wrong; exits 1 if anything is.",
};

class UsageError extends Error {}

export async function runCli(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === "--help" || command === "-h" || command === "help") {
    console.log(HELP.main);
    return command ? 0 : 2;
  }
  if (command === "--version") {
    console.log(VERSION);
    return 0;
  }
  if (!HELP[command] || command === "main") {
    console.error(`unknown command "${command}"\n\n${HELP.main}`);
    return 2;
  }
  if (rest.includes("--help") || rest.includes("-h")) {
    console.log(HELP[command]);
    return 0;
  }
  try {
    const env = readEnvironment();
    switch (command) {
      case "serve": return await serve(loadConfig(env));
      case "check": return await runCheck(env);
      case "migrate": return await withDatabase(loadConfig(env, "database"), async (db) => {
        const applied = await db.migrate();
        console.log(applied.length ? `applied: ${applied.join(", ")}` : "database is up to date");
        return 0;
      });
      case "mailbox": return await mailbox(loadConfig(env, "database"), rest);
      case "room": return await room(loadConfig(env, "database"), rest);
      case "queue": return await queue(loadConfig(env, "database"), rest);
    }
    return 2;
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(`${err.message}\n\n${HELP[command]}`);
      return 2;
    }
    if (err instanceof ConfigError || err instanceof XmppConfigError) {
      console.error(err.message);
      return 1;
    }
    console.error(`passerelle ${command}: ${(err as Error).message}`);
    return 1;
  }
}

async function serve(config: Config): Promise<number> {
  const log = createServerLogger(config.logLevel);
  const app = await startApp(config, log);
  await new Promise<void>((resolve) => {
    let stopping = false;
    const onSignal = (signal: NodeJS.Signals) => {
      if (stopping) {
        log.warn({ signal }, "second signal: exiting now");
        process.exit(1);
      }
      stopping = true;
      log.info({ signal }, "stopping: no new connections, finishing open transactions");
      app.stop().then(resolve, (err: Error) => {
        log.error({ err: err.message }, "error while stopping");
        resolve();
      });
    };
    process.on("SIGTERM", onSignal);
    process.on("SIGINT", onSignal);
  });
  return 0;
}

async function withDatabase<T>(config: Config, run: (db: Database) => Promise<T>): Promise<T> {
  const db = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, role: "cli",
    log: createLogger("warn") });
  try {
    await db.migrate();
    return await run(db);
  } finally {
    await db.close();
  }
}

/** What `mailbox` and `room` administer: rows of an address and a JID (docs/design.md §Contract, Commands). */
interface AddressTable {
  list(): Promise<{ address: string; jid: string; enabled: boolean }[]>;
  upsert(address: MailAddress, jid: BareJid): Promise<string>;
  remove(address: string): Promise<boolean>;
  setEnabled(address: string, enabled: boolean): Promise<boolean>;
}

async function mailbox(config: Config, args: string[]): Promise<number> {
  return administer(config, args, "mailbox", (db) => createMailboxStore(db.knex));
}

async function room(config: Config, args: string[]): Promise<number> {
  return administer(config, args, "room", (db) => {
    const rooms = createRoomStore(db.knex);
    return { ...rooms, upsert: async (address, jid) => {
      const done = await rooms.upsert(address, jid);
      if (done === "mailbox") throw new Error(`${address} is a mailbox; a room needs an address of its own`);
      return done;
    } };
  });
}

async function administer(config: Config, args: string[], noun: "mailbox" | "room", open: (db: Database) => AddressTable): Promise<number> {
  const waiting = args.includes("--waiting");
  const [action, address, jid, ...extra] = args.filter((a) => a !== "--waiting");
  const arity: Record<string, number> = { add: 2, list: 0, remove: 1, disable: 1, enable: 1, ...(noun === "mailbox" ? { purge: 1 } : {}) };
  if (waiting && action !== "purge") throw new UsageError("--waiting is an option of mailbox purge");
  if (!action || arity[action] === undefined) throw new UsageError(`unknown ${noun} action "${action ?? ""}"`);
  const given = [address, jid, ...extra].filter((a) => a !== undefined).length;
  if (given !== arity[action]) throw new UsageError(`${noun} ${action} takes ${arity[action]} argument(s)`);
  return withDatabase(config, async (db) => {
    const rows = open(db);
    if (action === "list") {
      const listed = await rows.list();
      for (const m of listed) console.log(`${m.address}\t${m.jid}\t${m.enabled ? "enabled" : "disabled"}`);
      if (listed.length === 0) console.log(`no ${noun === "mailbox" ? "mailboxes" : "rooms"}`);
      return 0;
    }
    if (action === "add") {
      const mail = parseMailAddress(address!);
      if (!mail) throw new UsageError(`"${address}" is not an e-mail address`);
      if (!config.mailDomains.includes(domainOf(mail))) {
        throw new UsageError(`${mail} is not in MAIL_DOMAINS (${config.mailDomains.join(", ")})`);
      }
      const bare = parseBareJid(jid!);
      if (!bare) throw new UsageError(`"${jid}" is not a bare JID (${noun === "room" ? "room@conference.server" : "user@server"}, no resource)`);
      console.log(`${await rows.upsert(mail, bare)}: ${mail} → ${bare}`);
      return 0;
    }
    if (action === "purge") return purge(createRetentionStore(db.knex), address!, waiting);
    const done = action === "remove" ? await rows.remove(address!) : await rows.setEnabled(address!, action === "enable");
    console.log(done ? `${action}d: ${address}` : `no ${noun} ${address}`);
    if (done && action === "remove" && noun === "mailbox") {
      console.log(`its stored mail stays until it expires (RETENTION_DAYS, then THREAD_DAYS) and mail still waiting is delivered;`
        + ` \`passerelle mailbox purge ${address}\` deletes it now`);
    }
    return done ? 0 : 1;
  });
}

/** `mailbox purge`: 0 done (even when nothing was stored), 1 when the address is unknown altogether. */
async function purge(store: ReturnType<typeof createRetentionStore>, address: string, waiting: boolean): Promise<number> {
  if (!(await store.known(address))) {
    console.log(`no mailbox ${address} and no mail stored for it`);
    return 1;
  }
  const r = await store.purge(address, { waiting, batch: 500 });
  console.log(`purged ${address}: ${r.deliveries} deliveries and ${r.mails} mails deleted`
    + (waiting ? `, ${r.waiting} of them still waiting (never delivered)` : ""));
  if (r.waiting > 0 && !waiting) console.log(`${r.waiting} deliveries still waiting were kept; they are delivered as usual (--waiting deletes them)`);
  return 0;
}

async function queue(config: Config, args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args, options: { failed: { type: "boolean" } }, allowPositionals: true, strict: false });
  return withDatabase(config, async (db) => {
    const store = createDeliveryStore(db.knex);
    if (positionals[0] === "retry") {
      const id = Number(positionals[1]);
      if (!Number.isInteger(id) || id <= 0 || positionals.length !== 2) throw new UsageError("queue retry takes one delivery ID");
      const ok = await store.retry(id);
      console.log(ok ? `delivery ${id} queued for a new attempt` : `no delivery ${id}`);
      return ok ? 0 : 1;
    }
    if (positionals.length > 0) throw new UsageError(`unknown queue action "${positionals[0]}"`);
    const rows = await store.list(values.failed ? ["failed"] : ["pending", "sending"]);
    for (const d of rows) {
      console.log([d.id, d.status, d.kind === "report" ? "report" : d.direction, d.recipient, d.jid, `attempts=${d.attempts}`,
        `next=${d.nextAttemptAt.toISOString()}`, d.lastError ?? ""].join("\t"));
    }
    if (rows.length === 0) console.log(values.failed ? "no failed deliveries" : "queue is empty");
    return 0;
  });
}
