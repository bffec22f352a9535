// The embedded default: PGlite files under DATA_DIR, shared over the Postgres protocol on a local socket
// so that `bin/passerelle mailbox …` and psql work while `serve` holds the database.
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { PGlite } from "@electric-sql/pglite";
import { PGLiteSocketServer } from "@electric-sql/pglite-socket";
import knexFactory, { type Knex } from "knex";
import ClientPgLite from "knex-pglite";
import pg from "pg";
import type { Logger } from "../log.ts";

export interface Embedded {
  pglite: PGlite;
  knex: Knex;
  describe: string;
  close(): Promise<void>;
}

const SOCKET_NAME = ".s.PGSQL.5432";
// sockaddr_un.sun_path is 108 bytes on Linux; past that, fall back to a loopback TCP port.
const MAX_SOCKET_PATH = 100;

const infoFile = (dataDir: string) => join(dataDir, "embedded.json");
const lockFile = (dataDir: string) => join(dataDir, "embedded.pid");

export interface EmbeddedInfo { url: string; psql: string; pid: number }

/** Open PGlite in this process. With `share`, also serve it on a socket and record how to reach it. */
export async function openEmbedded(dataDir: string, share: boolean, log: Logger): Promise<Embedded> {
  takeLock(dataDir);
  const pglite = await PGlite.create(join(dataDir, "pgdata"));
  const knex = knexFactory({ client: ClientPgLite, connection: { pglite } } as Knex.Config);
  let server: PGLiteSocketServer | null = null;
  let describe = `embedded database in ${dataDir} (start serve to reach it with psql)`;
  if (share) {
    const socketPath = join(dataDir, SOCKET_NAME);
    const useSocket = socketPath.length <= MAX_SOCKET_PATH;
    if (useSocket) rmSync(socketPath, { force: true });
    server = useSocket
      ? new PGLiteSocketServer({ db: pglite, path: socketPath, maxConnections: 16 })
      : new PGLiteSocketServer({ db: pglite, host: "127.0.0.1", port: 0, maxConnections: 16 });
    await server.start();
    const tcp = useSocket ? null : server.getServerConn();
    const info: EmbeddedInfo = useSocket
      ? { url: `postgres://postgres@localhost/postgres?host=${encodeURIComponent(dataDir)}`, psql: `psql -h ${dataDir} -U postgres postgres`, pid: process.pid }
      : { url: `postgres://postgres@${tcp}/postgres`, psql: `psql postgres://postgres@${tcp}/postgres`, pid: process.pid };
    writeFileSync(infoFile(dataDir), JSON.stringify(info));
    describe = `embedded database in ${dataDir}; admins: ${info.psql}`;
    log.info({ psql: info.psql }, "embedded database shared on a local socket");
  }
  return {
    pglite,
    knex,
    describe,
    close: async () => {
      await server?.stop().catch(() => undefined);
      if (share) rmSync(infoFile(dataDir), { force: true });
      await knex.destroy(); // closes the PGlite instance too (knex-pglite's only connection)
      if (!pglite.closed) await pglite.close();
      rmSync(lockFile(dataDir), { force: true });
    },
  };
}

/** When `serve` runs, how to reach its socket; null when no serve answers. */
export async function connectEmbedded(dataDir: string): Promise<EmbeddedInfo | null> {
  if (!existsSync(infoFile(dataDir))) return null;
  const info = JSON.parse(readFileSync(infoFile(dataDir), "utf8")) as EmbeddedInfo;
  const client = new pg.Client({ connectionString: info.url, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    return info;
  } catch {
    return null;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** PGlite must be opened by one process only: two writers corrupt its files. */
function takeLock(dataDir: string): void {
  const file = lockFile(dataDir);
  if (existsSync(file)) {
    const pid = Number(readFileSync(file, "utf8"));
    if (pid && pid !== process.pid && isAlive(pid)) {
      throw new Error(`the embedded database in ${dataDir} is open in process ${pid}, whose socket does not answer; stop it first or set DATABASE_URL`);
    }
  }
  writeFileSync(file, String(process.pid));
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}
