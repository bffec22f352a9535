// Opening the database: PostgreSQL at DATABASE_URL, or the embedded PGlite under DATA_DIR.
import { mkdirSync } from "node:fs";
import knexFactory, { type Knex } from "knex";
import pg from "pg";
import type { Logger } from "../log.ts";
import { migrationSource } from "./migrations.ts";
import type { Embedded } from "./embedded.ts";

export const NOTIFY_CHANNEL = "passerelle_deliveries";

/**
 * What a NOTIFY on the channel says (migration 000009): deliveries of one direction are due, or the
 * mailboxes table changed. `all`: the listener (re)connected, anything may have changed meanwhile;
 * `lost`: the listener is gone, notices will be missed until the next `all`.
 */
export type Notice = "inbound" | "outbound" | "mailboxes" | "all" | "lost";

/** A payload from an older trigger (empty) or one we do not know means "look at everything". */
export const readNotice = (payload: string | undefined): Notice =>
  payload === "inbound" || payload === "outbound" || payload === "mailboxes" ? payload : "all";

export interface Database {
  knex: Knex;
  /** how an admin reaches this database with psql, for messages */
  describe: string;
  /** LISTEN on the channel (one connection for all subscribers): what changed, as it is notified. Best
   * effort: polling covers gaps, and `lost`/`all` say when notices may have been missed. */
  listen(callback: (notice: Notice) => void): Promise<() => Promise<void>>;
  /**
   * Resolves once every notice committed before the call has reached the subscribers: PostgreSQL sends
   * a listening session its pending notifications before the answer to its next query, so one round
   * trip on that session proves it. Rejects when nothing is listening.
   */
  heard(): Promise<void>;
  migrate(): Promise<string[]>;
  close(): Promise<void>;
}

export interface DatabaseOptions {
  databaseUrl: string | undefined;
  dataDir: string;
  /** serve: open the embedded database and share it on a socket; cli: use serve's socket when it runs */
  role: "serve" | "cli";
  log: Logger;
}

// pg returns int8 as string by default; our ids and counts fit in a double.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v));

export async function openDatabase(options: DatabaseOptions): Promise<Database> {
  if (options.databaseUrl) {
    return openPostgres(options.databaseUrl, options.databaseUrl.replace(/:[^:@/]*@/, ":***@"), options.log, true);
  }
  mkdirSync(options.dataDir, { recursive: true });
  // PGlite (a WebAssembly PostgreSQL, tens of MiB) is loaded only for the embedded database.
  const { connectEmbedded, openEmbedded } = await import("./embedded.ts");
  if (options.role === "cli") {
    // serve holds the embedded database: talk to it over its socket rather than open the files twice.
    const running = await connectEmbedded(options.dataDir);
    // One session: PGlite runs one transaction at a time for all its socket clients.
    if (running) return openPostgres(running.url, running.psql, options.log, false);
  }
  return openPglite(await openEmbedded(options.dataDir, options.role === "serve", options.log));
}

function openPostgres(url: string, describe: string, log: Logger, server: boolean): Database {
  const listener = createPostgresListener(url, log);
  const knex = knexFactory({
    client: "pg",
    connection: url,
    pool: {
      min: 0,
      max: server ? 10 : 1,
      // Invariant 1: `250` only after a durable commit, whatever the server's default is.
      afterCreate: (conn: pg.Client, done: (err: Error | null, conn: pg.Client) => void) => {
        conn.query("SET synchronous_commit = on", (err: Error | null) => done(err, conn));
      },
    },
    acquireConnectionTimeout: 5000,
  });
  return {
    knex,
    describe,
    migrate: () => (server ? migrateExclusively(knex) : runMigrations(knex)),
    listen: listener.subscribe,
    heard: listener.sync,
    close: () => knex.destroy(),
  };
}

function openPglite(embedded: Embedded): Database {
  return {
    knex: embedded.knex,
    describe: embedded.describe,
    migrate: () => runMigrations(embedded.knex),
    listen: async (callback) => {
      const unlisten = await embedded.pglite.listen(NOTIFY_CHANNEL, (payload) => callback(readNotice(payload)));
      callback("all"); // in-process: never lost once subscribed
      return () => unlisten();
    },
    // PGlite runs one query at a time and calls its listeners when the query that notified completes.
    heard: async () => { await embedded.pglite.query("SELECT 1"); },
    close: () => embedded.close(),
  };
}

async function runMigrations(knex: Knex): Promise<string[]> {
  const [, applied] = await knex.migrate.latest({ migrationSource }) as [number, string[]];
  return applied;
}

/** Arbitrary constant naming Passerelle's migration lock ("pass" in ASCII). */
const MIGRATION_LOCK = 0x70617373;

/**
 * Several instances starting together: knex's own lock table is created racily (the losers fail with
 * "relation already exists") and a held lock makes them fail, not wait. A transaction-scoped advisory
 * lock, held on one connection while knex migrates on others, makes them queue instead.
 */
async function migrateExclusively(knex: Knex): Promise<string[]> {
  return knex.transaction(async (trx) => {
    await trx.raw("SELECT pg_advisory_xact_lock(?)", [MIGRATION_LOCK]);
    return runMigrations(knex);
  });
}

/**
 * One dedicated connection for LISTEN, shared by every subscriber, re-opened after it drops (the loops
 * poll meanwhile). Subscribers hear `all` when it (re)connects and `lost` when it drops.
 */
function createPostgresListener(url: string, log: Logger) {
  const subscribers = new Set<(notice: Notice) => void>();
  let client: pg.Client | null = null;
  let connecting: Promise<void> | null = null;
  let retry: NodeJS.Timeout | undefined;
  const tell = (notice: Notice) => { for (const s of subscribers) s(notice); };
  const connect = async (): Promise<void> => {
    const c = new pg.Client({ connectionString: url });
    c.on("notification", (n) => tell(readNotice(n.payload)));
    c.on("error", (err) => log.warn({ err: err.message }, "database listener lost; polling until it is back"));
    c.on("end", () => {
      if (client === c) tell("lost");
      client = null;
      if (subscribers.size > 0) retry = setTimeout(() => { connecting = connect().catch(() => undefined); }, 2000);
    });
    try {
      await c.connect();
      await c.query(`LISTEN ${NOTIFY_CHANNEL}`);
      client = c;
      tell("all"); // catch up on anything notified while we were not listening
    } catch (err) {
      log.warn({ err: (err as Error).message }, "database listener could not connect; retrying");
      await c.end().catch(() => undefined);
    }
  };
  // Rounds of `sync`: each caller waits for a round trip begun after its call; callers meanwhile share one.
  let nextRound: PromiseWithResolvers<void> | null = null;
  let syncing = false;
  const runRounds = async () => {
    syncing = true;
    while (nextRound) {
      const round = nextRound;
      nextRound = null;
      try {
        if (!client) throw new Error("not listening");
        await client.query("SELECT 1");
        round.resolve();
      } catch (err) {
        round.reject(err);
      }
    }
    syncing = false;
  };
  const sync = (): Promise<void> => {
    const mine = (nextRound ??= Promise.withResolvers<void>()).promise;
    if (!syncing) void runRounds();
    return mine;
  };
  const subscribe = async (callback: (notice: Notice) => void): Promise<() => Promise<void>> => {
    subscribers.add(callback);
    if (client) callback("all");
    else await (connecting ??= connect());
    return async () => {
      subscribers.delete(callback);
      if (subscribers.size > 0) return;
      clearTimeout(retry);
      const c = client;
      client = null;
      connecting = null;
      await c?.end().catch(() => undefined);
    };
  };
  return { subscribe, sync };
}
