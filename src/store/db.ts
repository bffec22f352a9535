// Opening the database: PostgreSQL at DATABASE_URL, or the embedded PGlite under DATA_DIR.
import { mkdirSync } from "node:fs";
import knexFactory, { type Knex } from "knex";
import pg from "pg";
import type { Logger } from "../log.ts";
import { migrationSource } from "./migrations.ts";
import type { Embedded } from "./embedded.ts";

export const NOTIFY_CHANNEL = "passerelle_deliveries";

export interface Database {
  knex: Knex;
  /** how an admin reaches this database with psql, for messages */
  describe: string;
  /** LISTEN on the delivery channel; the callback runs on every NOTIFY. Best effort: polling covers gaps. */
  listen(callback: () => void): Promise<() => Promise<void>>;
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
    listen: (callback) => listenPostgres(url, callback, log),
    close: () => knex.destroy(),
  };
}

function openPglite(embedded: Embedded): Database {
  return {
    knex: embedded.knex,
    describe: embedded.describe,
    migrate: () => runMigrations(embedded.knex),
    listen: async (callback) => {
      const unlisten = await embedded.pglite.listen(NOTIFY_CHANNEL, () => callback());
      return () => unlisten();
    },
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

/** A dedicated connection for LISTEN, re-opened after it drops; the worker polls meanwhile. */
async function listenPostgres(url: string, callback: () => void, log: Logger): Promise<() => Promise<void>> {
  let client: pg.Client | null = null;
  let stopped = false;
  let retry: NodeJS.Timeout | undefined;
  const connect = async (): Promise<void> => {
    const c = new pg.Client({ connectionString: url });
    c.on("notification", () => callback());
    c.on("error", (err) => log.warn({ err: err.message }, "database listener lost; polling until it is back"));
    c.on("end", () => {
      if (!stopped) retry = setTimeout(() => void connect().catch(() => undefined), 2000);
    });
    try {
      await c.connect();
      await c.query(`LISTEN ${NOTIFY_CHANNEL}`);
      client = c;
      callback(); // catch up on anything notified while we were not listening
    } catch (err) {
      log.warn({ err: (err as Error).message }, "database listener could not connect; retrying");
      await c.end().catch(() => undefined);
    }
  };
  await connect();
  return async () => {
    stopped = true;
    clearTimeout(retry);
    await client?.end().catch(() => undefined);
  };
}

