// Which instance holds the XMPP link: a PostgreSQL session-level advisory lock on a dedicated session of
// its own (never the knex pool), so the lock lives exactly as long as that one session (docs/design.md
// §Several instances). PostgreSQL releases it when the session ends, whatever ended it.
import { Socket } from "node:net";
import type { Knex } from "knex";
import pg from "pg";
import type { Logger } from "../log.ts";

/** The advisory lock's first key ("pass" in ASCII, as the migration lock's); the second is the component domain's hash. */
const LOCK_CLASS = 0x70617373;
/** How the lock's session shows in pg_stat_activity (and how an administrator finds it). */
export const LOCK_APPLICATION = "passerelle link lock";

export interface LinkLock {
  /** Take the lock if no session holds it (connecting first when needed); false when taken or unreachable. */
  tryAcquire(): Promise<boolean>;
  /** One cheap round trip on the lock's session within `timeoutMs`; false (and the session closed) otherwise. */
  check(timeoutMs: number): Promise<boolean>;
  /** End the session, and with it the lock. */
  release(): Promise<void>;
}

export interface LinkLockDeps {
  log: Logger;
  /** The lock's session ended by itself (terminated, network, server restart): the lock is gone. */
  onLost(): void;
}

export function createLinkLock(config: { databaseUrl: string; domain: string }, deps: LinkLockDeps): LinkLock {
  let client: pg.Client | null = null;
  let socket: Socket | null = null;
  let held = false;

  /** Forget the session; destroying its socket ends it even when the peer no longer answers. */
  const drop = () => {
    const wasHeld = held;
    held = false;
    client = null;
    socket?.destroy();
    socket = null;
    return wasHeld;
  };

  const connect = async (): Promise<pg.Client> => {
    // pg's `stream` option hands us the socket it uses, so a stalled session can be cut (pg's end() waits for the peer).
    const s = new Socket();
    const c = new pg.Client({ connectionString: config.databaseUrl, application_name: LOCK_APPLICATION, stream: () => s });
    const ended = () => {
      if (client !== c) return;
      if (drop()) {
        deps.log.warn("the database session holding the XMPP link lock ended");
        deps.onLost();
      }
    };
    c.on("error", (err) => deps.log.debug({ err: err.message }, "link lock session error"));
    c.on("end", ended);
    socket = s;
    client = c;
    try {
      await c.connect();
      // The server ends the session (and frees the lock) ~6 s after its peer went silent, e.g. behind a
      // network partition, instead of the system's TCP keep-alive of hours: the holder, whose checks then go
      // unanswered, has closed its link by then (docs/design.md §Several instances).
      await c.query("SET tcp_keepalives_idle = 3; SET tcp_keepalives_interval = 1; SET tcp_keepalives_count = 3");
    } catch (err) {
      if (client === c) drop();
      throw err;
    }
    return c;
  };

  return {
    async tryAcquire() {
      if (held) return true;
      try {
        const c = client ?? await connect();
        const { rows } = await c.query<{ locked: boolean }>("SELECT pg_try_advisory_lock($1, hashtext($2)) AS locked", [LOCK_CLASS, config.domain]);
        held = rows[0]?.locked === true && client === c;
        return held;
      } catch (err) {
        deps.log.debug({ err: (err as Error).message }, "link lock not reachable");
        drop();
        return false;
      }
    },
    async check(timeoutMs) {
      const c = client;
      if (!c || !held) return false;
      let timer: NodeJS.Timeout | undefined;
      const ok = await Promise.race([
        c.query("SELECT 1").then(() => true, () => false),
        new Promise<boolean>((resolve) => { timer = setTimeout(() => resolve(false), timeoutMs); }),
      ]);
      clearTimeout(timer);
      if (!ok && client === c) drop();
      return ok && client === c;
    },
    async release() {
      const c = client;
      const s = socket;
      held = false;
      client = null;
      socket = null;
      if (!c) return;
      // A graceful end when the server answers; the socket is cut if it does not within a second.
      const timer = setTimeout(() => s?.destroy(), 1000);
      await c.end().catch(() => undefined);
      clearTimeout(timer);
      s?.destroy();
    },
  };
}

/** The embedded database has one process (docs/design.md §Several instances): it always holds the link. */
export function createSoleLock(): LinkLock {
  return { tryAcquire: async () => true, check: async () => true, release: async () => undefined };
}

/** The session holding the link lock for `domain`, if any: for `check`, which must not take the link from it. */
export async function linkHolder(knex: Knex, domain: string): Promise<{ pid: number; client: string | null } | null> {
  const { rows } = await knex.raw<{ rows: { pid: number; client: string | null }[] }>(
    `SELECT l.pid, host(a.client_addr) AS client FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid
      WHERE l.locktype = 'advisory' AND l.granted AND l.classid = ?::oid AND l.objid = hashtext(?)::oid AND l.objsubid = 2`,
    [LOCK_CLASS, domain]);
  return rows[0] ?? null;
}
